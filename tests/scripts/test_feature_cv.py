"""scripts/feature_cv.py's `layer` variant reads the sentence model's
hidden layers the way the featurizer reads its last one."""

from __future__ import annotations

import numpy as np

from components.sentence_embeddings import SentenceEmbeddingFeaturizer
from scripts.feature_cv import layer_vectors

TEXTS = [
    "does it hurt?",
    "My neck has been stiff for months after a fall, would dry needling help?",
]


def test_the_last_layer_is_the_featurizers_vector() -> None:
    """Same pooling as the product's vector, so a layer's figures compare."""
    expected = SentenceEmbeddingFeaturizer({}).embed(TEXTS)
    np.testing.assert_allclose(layer_vectors(TEXTS, 6), expected, atol=1e-5)


def test_an_earlier_layer_is_a_different_unit_vector() -> None:
    earlier = layer_vectors(TEXTS, 3)
    np.testing.assert_allclose(np.linalg.norm(earlier, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(earlier, layer_vectors(TEXTS, 6), atol=1e-2)
