"""One linear model picks the intent and, for FAQ questions, the answer.

`LinearIntentClassifier` stands in for DIETClassifier + ResponseSelector.
It reads the text itself: TF-IDF over word 1-2-grams and character 1-4-grams
(within words, so typos and word forms still share features), sublinear term
counts, each block L2-normalised; then one multinomial logistic regression
over *flat* labels: each FAQ answer (`faq/<topic>`) is a class of its own, as
is every other intent.

With `dense_weight` above 0 (default 0: off), each message's dense
sentence vector (`message.get_dense_features(TEXT)`, e.g. from
components/sentence_embeddings.py, which must then run before it) is
appended to the TF-IDF features, multiplied by `dense_weight`; a message
without one is an error, in training and in prediction.

With `neighbour_weight` above 0 (default 0: off; it needs the dense vectors
too), the regression's probabilities are blended with a vote of the nearest
training examples by meaning (`NearestExamples`): each label scores the mean
cosine similarity of its `neighbours` most similar examples, a softmax at
`neighbour_temperature` turns the scores into probabilities, and the two are
mixed, `neighbour_weight` of the vote to the rest. The regression weighs
words and character n-grams over the whole training set; the vote asks only
"which examples does this message mean the same as", so a question worded
unlike any example of its label but close in meaning to a few still finds
them. The training vectors are kept in the model (`neighbours.npz`).

Why (docs/evaluation.md, "Choosing the NLU pipeline"): scored by 5-fold cross-validation
on the training data, this model got 83% of messages right where DIET (feed-
forward, on the same kind of sparse features) + ResponseSelector got 72%,
with far fewer needless fallbacks; it trains in seconds, not minutes. With
1,900 short examples, a linear model over n-grams is hard to beat.

Its output has the shapes Rasa's own components produce, so everything
after it works unchanged:

- `intent` and `intent_ranking`: an intent's confidence is the probability
  of its likeliest label (for `faq`, of the likeliest answer), so the intent
  chosen is always that of the likeliest label. (Summing the 36 answers'
  probabilities instead made `faq` win over `out_of_scope` far too often.)
- `response_selector["faq"]`, as ResponseSelector writes it: the likeliest
  answer and a ranking, each with its probability *among FAQ answers*, which
  the slot mappings and the "did you mean" fallback read.

The fitted model is stored with skops (as Rasa's LogisticRegressionClassifier
does) and loaded only when it holds nothing but the types it writes. It is
the same scikit-learn pipeline with or without the dense features (they only
widen the regression's weights), so the types are the same.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.faq_keys import intent_of

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_classifier.skops"
NEIGHBOURS_FILE = "neighbours.npz"
# Beyond scikit-learn's own types, which skops trusts by default: the fitted
# TF-IDF keeps its weights as a SciPy sparse matrix.
TRUSTED_TYPES = frozenset({"scipy.sparse._csr.csr_matrix"})
RESPONSE_SELECTOR = "response_selector"


def build_model(config: Dict[Text, Any]) -> Any:
    """The untrained scikit-learn pipeline `config` describes."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    return make_pipeline(
        make_union(
            TfidfVectorizer(
                analyzer="word",
                ngram_range=tuple(config["word_ngrams"]),
                sublinear_tf=True,
            ),
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=tuple(config["char_ngrams"]),
                sublinear_tf=True,
            ),
        ),
        LogisticRegression(
            C=float(config["C"]),
            max_iter=int(config["max_iter"]),
            random_state=config["random_seed"],
        ),
    )


# Rasa's convention for intents that only a trigger sends (a reminder, the
# HTTP API's trigger_intent): Rasa injects them without NLU, so text never
# means one. Their one training example exists only for the domain.
EXTERNAL_PREFIX = "EXTERNAL_"


def never_external(probabilities: np.ndarray, labels: List[Text]) -> np.ndarray:
    """The probabilities with every `EXTERNAL_` label's set to 0 and each
    row renormalised: someone who types "handoff_timeout" is not a reminder
    firing (that got no reply at all: no rule answers it outside a wait)."""
    external = np.array([label.startswith(EXTERNAL_PREFIX) for label in labels])
    if not external.any():
        return probabilities
    kept = np.where(external[np.newaxis, :], 0.0, probabilities)
    totals = kept.sum(axis=1, keepdims=True)
    return np.divide(kept, totals, out=np.zeros_like(kept), where=totals > 0)


def column_ready(model: Any) -> Any:
    """`model` with its regression's weights stored column-major, so that
    `coef_.T`, which scikit-learn multiplies each message's sparse features
    by, is a C-contiguous view. Row-major (as `fit` and skops leave them),
    scipy copies the whole weight matrix on every call to make it so (the
    `ravel` in `_mul_multivector`): about 4 ms of a parse here. The values
    and every prediction are the same."""
    regression = model[-1]
    if hasattr(regression, "coef_"):
        regression.coef_ = np.asfortranarray(regression.coef_)
    return model


def skops_io() -> Any:
    """`skops.io`, imported without letting it change logging.

    Importing it pulls in `numpy.distutils`, whose log module sets the root
    logger to WARNING: every INFO line of the servers (the channels' own
    logs among them) would vanish once the model is loaded.
    """
    root = logging.getLogger()
    level = root.level
    try:
        import skops.io
    finally:
        root.setLevel(level)
    return skops.io


def dense_sentence_vectors(messages: List[Message]) -> np.ndarray:
    """Each message's dense sentence features on TEXT, one row each."""
    rows = []
    for message in messages:
        _, sentence = message.get_dense_features(TEXT)
        if sentence is None:
            raise RasaException(
                "LinearIntentClassifier has `dense_weight` above 0 but the message "
                f"{message.get(TEXT)!r} has no dense sentence features: put a dense "
                "featurizer (components.sentence_embeddings."
                "SentenceEmbeddingFeaturizer) before it in the pipeline."
            )
        rows.append(np.asarray(sentence.features, dtype=np.float64).reshape(-1))
    return np.vstack(rows)


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries, found once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class NearestExamples:
    """The vote's kept training examples: unit `vectors` (one row each) and
    the index of each one's label (`labels`, into the model's classes),
    laid out once per label so that a vote is a few array operations."""

    def __init__(self, vectors: np.ndarray, labels: np.ndarray, count: int) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.counts = np.bincount(self.labels, minlength=count)
        width = max(int(self.counts.max(initial=0)), 1)
        # row j: the kept examples of label j, padded (`valid` False)
        self.index = np.zeros((count, width), dtype=np.int64)
        self.valid = np.zeros((count, width), dtype=bool)
        for label in range(count):
            rows = np.flatnonzero(self.labels == label)
            self.index[label, : len(rows)] = rows
            self.valid[label, : len(rows)] = True

    def vote(
        self, vectors: np.ndarray, neighbours: int, temperature: float
    ) -> np.ndarray:
        """Per message (a row of unit `vectors`), a probability per label:
        label j scores the mean cosine similarity of its `neighbours` kept
        examples most similar to the message (all of them if it has fewer),
        and a softmax at `temperature` turns the scores into probabilities.
        A label with no kept example gets 0."""
        # One BLAS thread: a product this small gains nothing from more, and
        # OpenBLAS's extra threads spin after it, which cost about 12 ms of
        # CPU a message on the other core (in `make bench`'s capacity runs).
        with _blas_controller().limit(limits=1, user_api="blas"):
            similarity = np.asarray(vectors, dtype=np.float32) @ self.vectors.T
        grid = np.where(self.valid, similarity[:, self.index], -np.inf)
        k = max(1, min(neighbours, grid.shape[2]))
        # the k largest of each label's row, in no particular order
        nearest = -np.partition(-grid, k - 1, axis=2)[:, :, :k]
        found = np.isfinite(nearest)
        total = np.where(found, nearest, 0.0).sum(axis=2)
        scores = np.where(
            self.counts > 0, total / np.maximum(found.sum(axis=2), 1), -np.inf
        ).astype(np.float64)
        scaled = np.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
        return scaled / scaled.sum(axis=1, keepdims=True)


def label_of(message: Message) -> Optional[Text]:
    """`faq/<topic>` for an FAQ example, else its intent."""
    return message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """Intent and FAQ answer from one TF-IDF + logistic regression model."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`C`: inverse regularisation strength, chosen by cross-validation
        (scripts/nlu_cv.py); `ranking_length`: entries kept in each ranking;
        `dense_weight`: scale of the dense sentence vector appended to the
        TF-IDF features (0: not used); `neighbour_weight`,
        `neighbours`, `neighbour_temperature`: the nearest-examples vote
        blended in (the module docstring; weight 0: not used)."""
        return {
            "word_ngrams": [1, 2],
            "char_ngrams": [1, 4],
            "C": 10.0,
            "max_iter": 3000,
            "random_seed": 42,
            "retrieval_intent": "faq",
            "ranking_length": 10,
            "dense_weight": 0.0,
            "neighbour_weight": 0.0,
            "neighbours": 3,
            "neighbour_temperature": 0.05,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
        responses: Optional[Dict[Text, List[Dict[Text, Any]]]] = None,
        neighbours: Optional[NearestExamples] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model
        self.responses = responses or {}
        self.neighbours = neighbours  # the vote's kept examples

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    # --- training -----------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT)]
        labels = [label_of(m) for m in examples]
        if len(set(labels)) < 2:
            raise RasaException(
                "LinearIntentClassifier needs examples of at least two intents."
            )
        self.model = build_model(self.config)
        # What Pipeline.fit does, with the dense vectors added in between.
        self.model[-1].fit(self._features(examples, fit=True), labels)
        column_ready(self.model)
        if self._voting:
            classes = [str(label) for label in self.model.classes_]
            self.neighbours = NearestExamples(
                dense_sentence_vectors(examples),
                np.array([classes.index(str(label)) for label in labels]),
                len(classes),
            )
        self.responses = dict(training_data.responses)
        self.persist()
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    # --- prediction ---------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None or not messages:
            return messages
        probabilities = self.model[-1].predict_proba(self._features(messages))
        labels = [str(label) for label in self.model.classes_]
        if self._voting:
            probabilities = self._with_vote(messages, probabilities)
        probabilities = never_external(probabilities, labels)
        for message, row in zip(messages, probabilities, strict=True):
            self._annotate(message, labels, row)
        return messages

    def _features(self, messages: List[Message], fit: bool = False) -> Any:
        """The regression's input: the TF-IDF blocks of each message's text
        and, with `dense_weight` above 0, its scaled sentence vector."""
        import scipy.sparse

        texts = [message.get(TEXT) or "" for message in messages]
        tfidf = self.model[0]
        sparse = tfidf.fit_transform(texts) if fit else tfidf.transform(texts)
        weight = float(self.config["dense_weight"])
        if not weight:
            return sparse
        dense = scipy.sparse.csr_matrix(weight * dense_sentence_vectors(messages))
        return scipy.sparse.hstack([sparse, dense], format="csr")

    @property
    def _voting(self) -> bool:
        return float(self.config["neighbour_weight"]) > 0

    def _with_vote(
        self, messages: List[Message], probabilities: np.ndarray
    ) -> np.ndarray:
        """The regression's probabilities blended with the nearest-examples
        vote (the module docstring)."""
        if self.neighbours is None:
            raise RasaException(
                "LinearIntentClassifier has `neighbour_weight` above 0 but its "
                "model keeps no training vectors: train it again."
            )
        vote = self.neighbours.vote(
            dense_sentence_vectors(messages),
            int(self.config["neighbours"]),
            float(self.config["neighbour_temperature"]),
        )
        weight = float(self.config["neighbour_weight"])
        return (1 - weight) * probabilities + weight * vote

    def _annotate(self, message: Message, labels: List[Text], row: Any) -> None:
        retrieval = self.config["retrieval_intent"]
        length = int(self.config["ranking_length"])
        by_intent: Dict[Text, float] = {}
        answers: List[tuple] = []
        for label, probability in zip(labels, row.tolist(), strict=True):
            intent = intent_of(label)
            by_intent[intent] = max(by_intent.get(intent, 0.0), probability)
            if intent == retrieval:
                answers.append((label, probability))

        ranking = [
            {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}
            for name, confidence in sorted(by_intent.items(), key=lambda i: -i[1])
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking[:length], add_to_output=True)
        if answers:
            total = sum(probability for _, probability in answers)
            self._select_answer(message, answers, total, length)

    def _select_answer(
        self, message: Message, answers: List[tuple], total: float, length: int
    ) -> None:
        """Writes `response_selector` as Rasa's ResponseSelector does, with
        each answer's probability given that the message is an FAQ."""
        from rasa.shared.nlu.training_data.util import (
            intent_response_key_to_template_key,
        )

        retrieval = self.config["retrieval_intent"]
        total = total or 1.0
        answers = sorted(answers, key=lambda a: -a[1])
        best, best_probability = answers[0]
        selector = dict(message.get(RESPONSE_SELECTOR) or {})
        selector["all_retrieval_intents"] = [retrieval]
        selector[retrieval] = {
            "response": {
                "responses": self.responses.get(
                    intent_response_key_to_template_key(best), []
                ),
                PREDICTED_CONFIDENCE_KEY: best_probability / total,
                INTENT_RESPONSE_KEY: best,
                "utter_action": intent_response_key_to_template_key(best),
            },
            "ranking": [
                {
                    "id": abs(hash(key)) % 10**12,
                    PREDICTED_CONFIDENCE_KEY: probability / total,
                    INTENT_RESPONSE_KEY: key,
                }
                for key, probability in answers[:length]
            ],
        }
        message.set(RESPONSE_SELECTOR, selector, add_to_output=True)

    # --- storage ------------------------------------------------------------

    def persist(self) -> None:
        sio = skops_io()
        with self._model_storage.write_to(self._resource) as folder:
            sio.dump(self.model, folder / MODEL_FILE)
            (folder / "responses.json").write_text(json.dumps(self.responses))
            if self.neighbours is not None:
                np.savez(
                    folder / NEIGHBOURS_FILE,
                    vectors=self.neighbours.vectors,
                    labels=self.neighbours.labels,
                )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        sio = skops_io()
        with model_storage.read_from(resource) as folder:
            path = folder / MODEL_FILE
            unexpected = set(sio.get_untrusted_types(file=path)) - TRUSTED_TYPES
            if unexpected:
                raise RasaException(
                    f"Refusing to load {path.name}: it holds types this component "
                    f"never writes ({', '.join(sorted(unexpected))})."
                )
            model = column_ready(sio.load(path, trusted=sorted(TRUSTED_TYPES)))
            responses = json.loads((folder / "responses.json").read_text())
            neighbours = None
            if (folder / NEIGHBOURS_FILE).is_file():
                # plain arrays only: no pickled objects are loaded
                with np.load(folder / NEIGHBOURS_FILE, allow_pickle=False) as kept:
                    neighbours = NearestExamples(
                        kept["vectors"], kept["labels"], len(model.classes_)
                    )
        return cls(config, model_storage, resource, model, responses, neighbours)
