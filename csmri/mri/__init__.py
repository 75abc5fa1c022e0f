"""MRI physics: centred FFTs, masks, coil maps (ESPIRiT), coils, k-space simulation, noise
prewhitening, partial Fourier reconstruction and the encoded/recon matrix."""
