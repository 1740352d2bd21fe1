"""The built-in LoRA trainer. Imported only inside training and sampling subprocesses."""
