"""Training: corpora and data sets, the run folder, pretraining, finetuning, estimates before a run starts."""
