"""Layer modules, one small file per family (re-exported by ``tinygrad_cv.nn``)."""
