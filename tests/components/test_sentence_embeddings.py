"""The sentence embedding featurizer (components/sentence_embeddings.py),
on the real model `make install` unpacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.sentence_embeddings import (
    SentenceEmbeddingFeaturizer,
    resolve_model_path,
)
from scripts.sentence_model import MODEL_DIR, ROOT
from tests.components.conftest import messages

TEXTS = [
    "hi",
    "how much does a session of acupuncture cost?",
    "Do you treat sciatica, and how many sessions would I need before it helps?",
    "needles",
    "",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_each_message_gets_a_unit_sentence_vector(featurizer) -> None:
    batch = featurizer.process(messages(TEXTS))
    for message in batch:
        (added,) = message.features
        assert added.origin == "SentenceEmbeddingFeaturizer"
        assert added.attribute == TEXT and added.type == "sentence"
        assert added.is_dense()
        sequence, sentence = message.get_dense_features(TEXT)
        assert sequence is None
        vector = sentence.features[0]
        assert vector.shape == (384,)
        assert vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "text, paraphrase, unrelated",
    [
        (
            "how much does a treatment cost",
            "what is the price of a session",
            "do you have parking near the clinic",
        ),
        (
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
        ),
        (
            "are the needles sterile",
            "do you use clean needles",
            "what time do you open",
        ),
    ],
)
def test_a_paraphrase_is_closer_than_an_unrelated_text(
    featurizer, text: str, paraphrase: str, unrelated: str
) -> None:
    a, b, c = featurizer.embed([text, paraphrase, unrelated])
    assert cosine(a, b) > cosine(a, c) + 0.2


def test_vectors_are_the_mean_of_the_hidden_states_normalised(featurizer) -> None:
    """The pooling the model was trained with, recomputed without the
    featurizer's tf.function: mean over real tokens, then unit length."""
    from transformers import BertTokenizerFast, TFBertModel

    texts = ["where is the clinic", "can I pay by card at the end of the session"]
    tokenizer = BertTokenizerFast.from_pretrained(MODEL_DIR, local_files_only=True)
    model = TFBertModel.from_pretrained(MODEL_DIR, local_files_only=True)
    batch = tokenizer(texts, padding=True, return_tensors="np")
    hidden = model(**batch).last_hidden_state.numpy()
    mask = batch["attention_mask"][:, :, None]
    expected = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(featurizer.embed(texts), expected, atol=1e-5)


def test_batch_and_single_give_the_same_vectors(featurizer) -> None:
    batch = featurizer.embed(TEXTS)
    single = np.vstack([featurizer.embed([text]) for text in TEXTS])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_create_loads_and_traces_the_model(featurizer) -> None:
    """So the first message after a model load does not wait for them."""
    assert featurizer._encode is not None
    assert featurizer.encode.experimental_get_tracing_count() == 1


def test_built_directly_it_loads_on_first_use() -> None:
    featurizer = SentenceEmbeddingFeaturizer({})
    assert featurizer._encode is None and featurizer.dimension is None


def test_batches_of_any_size_and_length_reuse_one_trace(featurizer) -> None:
    small = SentenceEmbeddingFeaturizer({"batch_size": 2})
    texts = [f"message number {i} " * (i + 1) for i in range(7)]
    small.embed(texts)
    small.embed(["short"])
    assert small.encode.experimental_get_tracing_count() == 1
    np.testing.assert_allclose(small.embed(texts), featurizer.embed(texts), atol=1e-5)


def test_long_texts_are_cut_at_max_length(featurizer) -> None:
    start = "my lower back hurts when I sit "
    long, longer = start * 40, start * 80
    assert len(featurizer._tokenizer(long)["input_ids"]) > 128
    a, b = featurizer.embed([long, longer])
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_training_data_examples_with_text_are_featurized(featurizer) -> None:
    data = TrainingData(
        training_examples=[
            Message(data={"text": "hello", "intent": "greet"}),
            Message(data={"intent": "greet"}),
        ]
    )
    featurizer.process_training_data(data)
    with_text, without = data.training_examples
    assert with_text.get_dense_features(TEXT)[1].features.shape == (1, 384)
    assert without.get_dense_features(TEXT) == (None, None)


def test_alias_names_the_origin() -> None:
    featurizer = SentenceEmbeddingFeaturizer({"alias": "minilm"})
    assert featurizer._identifier == "minilm"


def test_relative_model_path_is_taken_from_the_project_root() -> None:
    assert resolve_model_path(".venv/share/all-MiniLM-L6-v2") == MODEL_DIR
    assert resolve_model_path(str(MODEL_DIR)) == MODEL_DIR
    default = SentenceEmbeddingFeaturizer.get_default_config()["model_path"]
    assert resolve_model_path(default) == MODEL_DIR
    assert MODEL_DIR.is_relative_to(ROOT)


def test_missing_model_folder_says_run_make_install(
    tmp_path: Path, storage, context
) -> None:
    with pytest.raises(RasaException, match="does not exist: run `make install`"):
        SentenceEmbeddingFeaturizer.create(
            {"model_path": str(tmp_path / "absent")}, storage, None, context
        )
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    with pytest.raises(RasaException, match="lacks tokenizer.json.*make install"):
        SentenceEmbeddingFeaturizer({"model_path": str(tmp_path / "model")})


OFFLINE_SCRIPT = """
import json, sys
from components.sentence_embeddings import SentenceEmbeddingFeaturizer
vector = SentenceEmbeddingFeaturizer({}).embed([sys.argv[1]])[0]
print(json.dumps(vector.tolist()))
"""


@pytest.mark.parametrize(
    "flags",
    [{"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, {}],
    ids=["offline-flags", "no-flags"],
)
def test_runs_with_no_hub_to_reach(featurizer, tmp_path: Path, flags) -> None:
    """A fresh interpreter with an empty Hugging Face cache and a hub address
    where nothing listens: with the offline flags and without them, the
    vector is the same, so nothing was fetched."""
    env = {
        **os.environ,
        **flags,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "CUDA_VISIBLE_DEVICES": "",
    }
    text = "is acupuncture safe during pregnancy"
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_SCRIPT, text],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    vector = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    np.testing.assert_allclose(vector, featurizer.embed([text])[0], atol=1e-5)
    # transformers writes only its cache's version.txt there at import.
    cached = {p.name for p in (tmp_path / "hf-home").rglob("*") if p.is_file()}
    assert cached <= {"version.txt"}


def test_vectors_embedded_ahead_are_taken_as_they_are(featurizer, monkeypatch) -> None:
    """`embed_ahead` (rasa_extensions/nlu_batching.py's batches): the parse
    that follows takes the kept vector, which is the text's own."""
    from components import sentence_embeddings

    single = np.vstack([featurizer.embed([text]) for text in TEXTS])
    assert sentence_embeddings.embed_ahead(TEXTS) >= 1
    monkeypatch.setattr(featurizer, "embed", lambda texts: pytest.fail(texts))
    parsed = featurizer.process(messages(TEXTS))
    found = np.vstack([m.get_dense_features(TEXT)[1].features for m in parsed])
    np.testing.assert_allclose(found, single, atol=1e-5)
    np.testing.assert_allclose(featurizer.vectors(TEXTS[:2]), single[:2], atol=1e-5)


def test_texts_not_embedded_ahead_are_embedded_then(featurizer) -> None:
    featurizer.embed_ahead(["hi"])
    vectors = featurizer.vectors(["hi", "a text never embedded ahead"])
    expected = featurizer.embed(["hi", "a text never embedded ahead"])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def test_at_most_kept_vectors_are_kept(featurizer, monkeypatch) -> None:
    from components import sentence_embeddings

    monkeypatch.setattr(sentence_embeddings, "KEPT_VECTORS", 3)
    featurizer._ahead.clear()
    featurizer.embed_ahead([f"text {n}" for n in range(5)])
    assert list(featurizer._ahead) == [
        sentence_embeddings._key(f"text {n}") for n in (2, 3, 4)
    ]


def test_with_nothing_kept_the_vectors_are_embeds_own(featurizer, monkeypatch) -> None:
    """Training data (nothing embedded ahead): the very batches `embed`
    makes, duplicates and all, so a trained model is bit for bit the same."""
    featurizer._ahead.clear()
    texts = [*TEXTS, TEXTS[1]]
    calls = []
    real = featurizer.embed
    monkeypatch.setattr(featurizer, "embed", lambda t: calls.append(list(t)) or real(t))
    np.testing.assert_array_equal(featurizer.vectors(texts), real(texts))
    assert calls == [texts]


def test_vectors_embedded_ahead_are_kept_without_their_text(featurizer) -> None:
    """What people typed (health details) is not held in memory by the
    batching: only a digest of each text, beside its vector."""
    text = "my left calf has been numb since Tuesday"
    featurizer.embed_ahead([text])
    kept = list(featurizer._ahead)
    assert kept and all("calf" not in key and len(key) == 64 for key in kept)
    np.testing.assert_allclose(
        featurizer.vectors([text])[0], featurizer.embed([text])[0], atol=1e-5
    )
