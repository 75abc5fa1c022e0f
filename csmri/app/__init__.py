"""Applications that compose operators, regularisers and solvers.

:func:`reconstruct`, the reconstruction methods behind one interface, automatic lambda,
batch and cluster runs, the verdict rule, figures and the BART reference.
"""
