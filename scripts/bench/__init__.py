"""`make bench`: training time, model size and load time; NLU accuracy,
parse latency and CPU time on both held-out test sets beside Rasa's default
pipeline and a TF-IDF baseline, and with and without the sentence features
(each model's memory in a fresh process); end-to-end latency, throughput
and memory over the REST channel.

Run with `python -m scripts.bench` (options: see `__main__`).
"""
