"""File formats: every k-space reader and writer, one module per format.

``atomic`` (atomic writes), ``cfl`` (BART), ``kspace`` and ``multicoil`` (fastMRI ``.h5``,
``.npy``/``.npz``), ``ismrmrd`` (MRD raw data), ``twix`` (Siemens raw data, the ``twix``
extra), ``raw`` (the result type both raw-data readers share) and ``images`` (NIfTI, PNG
and the embedded sample, the images that ``simulate`` turns into k-space).
"""
