"""sentence-transformers interop: what we export, SentenceTransformer(path) encodes the same."""

import pytest
import torch

from helpers import SentenceEncoder
from helpers.data import SENTENCE_TASKS, load_sentences
from helpers.export import export_sentence_transformer, heads_from_export
from helpers.lora import add_lora
from helpers.multitask import MultiTaskModel

SETTINGS = [  # (pooling, layer, normalize, projection_dim, exported with the projection)
    ("mean", -1, True, None, True), ("cls", -1, True, None, True), ("max", -1, True, None, True),
    ("mean", 1, True, None, True), ("max", 1, False, None, True), ("cls", -1, False, None, True),
    ("mean", -1, True, 8, True), ("mean", -1, False, 8, True), ("mean", -1, True, 8, False),
]


@pytest.fixture(scope="module")
def sentences():
    return list(load_sentences()["test"]["text"][:40])


@pytest.mark.parametrize(("pooling", "layer", "normalize", "dim", "with_projection"), SETTINGS,
                         ids=["-".join(map(str, setting)) for setting in SETTINGS])
def test_sentence_transformers_encodes_what_we_encode(tiny_model_dir, tmp_path, sentences,
                                                      pooling, layer, normalize, dim,
                                                      with_projection):
    from sentence_transformers import SentenceTransformer

    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, pooling=pooling, layer=layer,
                                              normalize=normalize)
    model = MultiTaskModel(encoder, SENTENCE_TASKS, projection_dim=dim, seed=0).eval()
    export_sentence_transformer(model, tmp_path / "st", projection=with_projection)
    theirs = SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(
        sentences, convert_to_tensor=True)
    ours = model.encode(sentences) if with_projection else encoder.encode(sentences,
                                                                          convert_to="torch")
    assert theirs.shape == ours.shape
    assert torch.nn.functional.cosine_similarity(theirs, ours).min() >= 0.9999
    assert (tmp_path / "st" / "sentence_mtl_heads.json").exists() == (with_projection or
                                                                     dim is None)


def test_the_exported_heads_predict_what_the_model_predicts(tiny_model_dir, tmp_path,
                                                            sentences):
    from sentence_transformers import SentenceTransformer

    model = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir), SENTENCE_TASKS,
                           head="mlp", seed=0).eval()
    model.set_temperature("topic", 1.5)
    export_sentence_transformer(model, tmp_path / "st")
    heads, config = heads_from_export(tmp_path / "st")
    vectors = SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(
        sentences, convert_to_tensor=True)
    expected = model.predict_probs(sentences)
    for task, head in heads.items():
        with torch.no_grad():
            probs = (head(vectors) / config["temperatures"][task]).softmax(dim=-1)
        assert torch.allclose(probs, expected[task], atol=1e-4)
    assert "## Task heads (sentence-mtl)" in (tmp_path / "st" / "README.md").read_text()


def test_what_sentence_transformers_cannot_express_is_refused_by_name(tiny_model_dir, tmp_path):
    quantized = MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir, quantize="int8"),
                               SENTENCE_TASKS)
    with pytest.raises(ValueError, match="quantized"):
        export_sentence_transformer(quantized, tmp_path / "q")
    adapted = add_lora(MultiTaskModel(SentenceEncoder.from_pretrained(tiny_model_dir),
                                      SENTENCE_TASKS), rank=2)
    with pytest.raises(ValueError, match=r"merge_lora\(model\) first"):
        export_sentence_transformer(adapted, tmp_path / "l")
    assert not any(tmp_path.iterdir())  # nothing half-written
