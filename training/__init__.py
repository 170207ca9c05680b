"""sam2_training: fine-tune SAM 2 models built by :mod:`sam2_engine` on lab data."""
