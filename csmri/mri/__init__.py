"""MRI physics: centred FFTs, masks, coil maps (ESPIRiT), coils and k-space simulation.

Also noise prewhitening, partial Fourier reconstruction and the encoded/recon matrix.
"""
