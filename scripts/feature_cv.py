"""Feature experiments for the linear classifier, outside Rasa, in minutes.

Rebuilds the classifier's features (TF-IDF word 1-2-grams and character
1-4-grams, the all-MiniLM-L6-v2 sentence vector times 2, logistic
regression C=100, the treatment-name variants of training) and scores a
variant by 5-fold cross-validation on data/nlu, grouped so that an example
and its name variants are always in the same fold. Choose by that figure;
the real sets' figures (figures only: real2 stays blind) are printed to
confirm. No fallback threshold and no red-flag rules: the figures compare
variants; they are not `make evaluate`'s.

    python -m scripts.feature_cv base      # today's features
    python -m scripts.feature_cv knn 1     # + nearest-example similarity
    python -m scripts.feature_cv last      # + the last sentence's vector
    python -m scripts.feature_cv late 1    # two models, probabilities averaged
    python -m scripts.feature_cv vote 0.4 0.05 3  # + nearest-examples vote
    python -m scripts.feature_cv layer 1 3   # + layer 3's mean-pooled vector

`vote`: `LinearIntentClassifier`'s nearest-examples vote (its own
`NearestExamples`), blended in at the weight given, with the temperature
and number of neighbours given (defaults 0.05 and 3).

`layer`: today's features and vote (0.4, 0.05, 3) plus one more dense
block, the mean-pooled, normalised hidden state of the sentence model's
layer given (0 is the embedding layer, 6 the last, today's vector), times
the weight given. Run it with OPENBLAS_NUM_THREADS=1: with two BLAS
threads on two cores a run takes several times longer.

`knn`: for each label, the cosine similarity of the message's sentence
vector to the nearest training example of that label (in training, the
example's own group left out), times the weight given.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

KEEP_NAMES_IN = {"faq/ims_vs_acupuncture", "faq/dry_needling", "faq/origins"}
DENSE_WEIGHT = 2.0
NEIGHBOUR_WEIGHT = 0.4  # config.yml's vote, kept by `layer`


def last_sentence(text: str) -> str:
    parts = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p.strip()]
    return parts[-1] if parts else text


def training_examples() -> tuple[List[str], np.ndarray, np.ndarray]:
    """Texts, labels and groups (an example and its name variants share one)."""
    from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
    from rasa.shared.nlu.training_data.loading import load_data

    from components.treatment_names import name_variants
    from scripts.evaluate import ROOT

    data = load_data(str(ROOT / "data" / "nlu"))
    texts: List[str] = []
    labels: List[str] = []
    groups: List[int] = []
    for index, message in enumerate(data.intent_examples):
        text = message.get(TEXT)
        label = message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)
        copies = [text]
        if label not in KEEP_NAMES_IN:
            copies += name_variants(text, 2, start=index)
        for copy in copies:
            texts.append(copy)
            labels.append(label)
            groups.append(index)
    return texts, np.array(labels), np.array(groups)


@functools.lru_cache(maxsize=1)
def _layer_model() -> tuple[Any, Any]:
    """The featurizer (its tokenizer and settings) and the model, loaded
    once for every `layer_vectors` call."""
    from transformers import TFBertModel

    from components.sentence_embeddings import SentenceEmbeddingFeaturizer

    featurizer = SentenceEmbeddingFeaturizer({})
    featurizer.embed(["load the tokenizer"])
    model = TFBertModel.from_pretrained(featurizer.model_path, local_files_only=True)
    return featurizer, model


def layer_vectors(texts: Sequence[str], layer: int) -> np.ndarray:
    """The sentence model's `layer` (0: embeddings, 6: last), mean-pooled
    over the tokens and normalised, as the featurizer pools the last."""
    import tensorflow as tf

    featurizer, model = _layer_model()
    out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    for start in range(0, len(texts), featurizer.batch_size):
        batch = featurizer._tokenizer(
            list(texts[start : start + featurizer.batch_size]),
            padding=True,
            truncation=True,
            max_length=featurizer.max_length,
            return_tensors="np",
            return_token_type_ids=False,
        )
        ids = batch["input_ids"].astype(np.int32)
        hidden = model(
            input_ids=ids,
            attention_mask=batch["attention_mask"].astype(np.int32),
            token_type_ids=np.zeros_like(ids),
            output_hidden_states=True,
            training=False,
        ).hidden_states[layer]
        mask = tf.cast(batch["attention_mask"], hidden.dtype)[:, :, tf.newaxis]
        mean = tf.reduce_sum(hidden * mask, axis=1) / tf.reduce_sum(mask, axis=1)
        out[start : start + len(ids)] = tf.math.l2_normalize(mean, axis=1).numpy()
    return out


def nearest_by_label(
    queries: np.ndarray,
    query_groups: Optional[np.ndarray],
    reference: np.ndarray,
    reference_labels: np.ndarray,
    reference_groups: np.ndarray,
    classes: Sequence[str],
) -> np.ndarray:
    similarity = queries @ reference.T
    if query_groups is not None:
        similarity[query_groups[:, None] == reference_groups[None, :]] = -1
    out = np.zeros((len(queries), len(classes)), dtype=np.float32)
    for column, label in enumerate(classes):
        out[:, column] = similarity[:, reference_labels == label].max(axis=1)
    return out


def predict(
    variant: str,
    weight: float,
    train: Dict[str, Any],
    texts: List[str],
    vectors: np.ndarray,
    last_vectors: np.ndarray,
    vote: Sequence[float] = (0.05, 3),
) -> np.ndarray:
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_union

    tfidf = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
    )
    fit = [tfidf.fit_transform(train["texts"]), DENSE_WEIGHT * train["vectors"]]
    use = [tfidf.transform(texts), DENSE_WEIGHT * vectors]
    classes = sorted(set(train["labels"]))
    if variant == "last":
        fit.append(DENSE_WEIGHT / 2 * train["last_vectors"])
        use.append(DENSE_WEIGHT / 2 * last_vectors)
    if variant == "layer":
        fit.append(weight * train["last_vectors"])
        use.append(weight * last_vectors)
    if variant == "knn":
        reference = (train["vectors"], train["labels"], train["groups"], classes)
        own = train["groups"]
        fit.append(weight * nearest_by_label(train["vectors"], own, *reference))
        use.append(weight * nearest_by_label(vectors, None, *reference))
    if variant == "late":
        # Two models, their probabilities averaged: TF-IDF alone (C=100)
        # and the sentence vector alone (C=10), the latter weighted `weight`.
        sparse_model = LogisticRegression(C=100, max_iter=3000, random_state=42)
        sparse_model.fit(fit[0], train["labels"])
        dense_model = LogisticRegression(C=10, max_iter=3000, random_state=42)
        dense_model.fit(train["vectors"], train["labels"])
        blend = sparse_model.predict_proba(use[0]) + weight * dense_model.predict_proba(
            vectors
        )
        return sparse_model.classes_[blend.argmax(axis=1)]
    model = LogisticRegression(C=100, max_iter=3000, random_state=42)
    model.fit(sp.hstack([sp.csr_matrix(b) for b in fit], format="csr"), train["labels"])
    features = sp.hstack([sp.csr_matrix(b) for b in use], format="csr")
    if variant not in ("vote", "layer"):
        return model.predict(features)
    from components.linear_classifier import NearestExamples

    classes = list(model.classes_)
    kept = NearestExamples(
        train["vectors"],
        np.array([classes.index(label) for label in train["labels"]]),
        len(classes),
    )
    temperature, neighbours = float(vote[0]), int(vote[1])
    share = NEIGHBOUR_WEIGHT if variant == "layer" else weight
    blend = (1 - share) * model.predict_proba(features) + share * kept.vote(
        vectors, neighbours, temperature
    )
    return model.classes_[blend.argmax(axis=1)]


def score(gold: Sequence[str], predicted: Any) -> Dict[str, float]:
    gold_array, predicted_array = np.array(gold), np.array(predicted)
    right = gold_array == predicted_array
    faq = np.char.startswith(gold_array.astype(str), "faq/")
    out_of_scope = gold_array == "out_of_scope"
    return {
        "all": round(float(right.mean()), 4),
        "faq_topic": round(float(right[faq].mean()), 4),
        "out_of_scope": round(float(right[out_of_scope].mean()), 4),
    }


def main(argv: List[str]) -> int:
    from sklearn.model_selection import StratifiedGroupKFold

    from components.sentence_embeddings import SentenceEmbeddingFeaturizer
    from scripts.evaluate import TEST_SETS, load_examples

    variant = argv[0] if argv else "base"
    weight = float(argv[1]) if len(argv) > 1 else 1.0
    vote = (
        float(argv[2]) if len(argv) > 2 else 0.05,
        int(argv[3]) if len(argv) > 3 else 3,
    )
    texts, labels, groups = training_examples()
    embed = SentenceEmbeddingFeaturizer({}).embed
    # "last_vectors": the last sentence's vector, or with `layer` the
    # layer's vector of the whole text (the one extra dense block)
    layer = int(argv[2]) if variant == "layer" and len(argv) > 2 else 3
    if variant == "layer":
        vote = (0.05, 3)

        def extra(items: Sequence[str]) -> np.ndarray:
            return layer_vectors(items, layer)

    else:

        def extra(items: Sequence[str]) -> np.ndarray:
            return embed([last_sentence(t) for t in items])

    vectors = embed(texts)
    last_vectors = extra(texts)

    def subset(rows: np.ndarray) -> Dict[str, Any]:
        return {
            "texts": [texts[i] for i in rows],
            "labels": labels[rows],
            "groups": groups[rows],
            "vectors": vectors[rows],
            "last_vectors": last_vectors[rows],
        }

    # Scored once per example as written, never on its name variants.
    written = np.zeros(len(texts), dtype=bool)
    written[np.unique(groups, return_index=True)[1]] = True
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    gold: List[str] = []
    predicted: List[str] = []
    for train_rows, test_rows in folds.split(texts, labels, groups):
        test_rows = test_rows[written[test_rows]]
        held_out = subset(test_rows)
        predicted += list(
            predict(
                variant,
                weight,
                subset(train_rows),
                held_out["texts"],
                held_out["vectors"],
                held_out["last_vectors"],
                vote,
            )
        )
        gold += list(labels[test_rows])
    result: Dict[str, Any] = {
        "variant": variant,
        "weight": weight,
        **(
            {"temperature": vote[0], "neighbours": vote[1]} if variant == "vote" else {}
        ),
        **({"layer": layer} if variant == "layer" else {}),
        "cross_validation": score(gold, predicted),
    }
    everything = subset(np.arange(len(texts)))
    for name, path in TEST_SETS.items():
        if name == "written":
            continue
        examples = load_examples(path)
        questions = [e.text for e in examples]
        result[name] = score(
            [e.label for e in examples],
            predict(
                variant,
                weight,
                everything,
                questions,
                embed(questions),
                extra(questions),
                vote,
            ),
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
