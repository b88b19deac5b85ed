"""`make bench`: training time, model size and load time, NLU accuracy and
parse latency beside Rasa's default pipeline and a TF-IDF baseline, and
end-to-end latency, throughput and memory over the REST channel.

Run with `python -m scripts.bench` (options: see `__main__`).
"""
