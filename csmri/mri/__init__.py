"""MRI physics: centred FFTs, masks, coil maps (ESPIRiT), coils and k-space simulation."""
