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


def test_a_sentence_transformers_directory_is_a_backbone_with_its_own_settings(
        tiny_model_dir, tmp_path, sentences):
    from sentence_transformers import SentenceTransformer

    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, pooling="cls", normalize=False)
    MultiTaskModel(encoder, SENTENCE_TASKS, seed=0).export_sentence_transformer(tmp_path / "st")
    loaded = SentenceEncoder.from_pretrained(tmp_path / "st")  # pooling, normalize: read
    assert (loaded.pooling, loaded.normalize) == ("cls", False)
    theirs = SentenceTransformer(str(tmp_path / "st"), device="cpu").encode(
        sentences, convert_to_tensor=True)
    ours = loaded.encode(sentences, convert_to="torch")
    assert torch.nn.functional.cosine_similarity(theirs, ours).min() >= 0.9999
    assert SentenceEncoder.from_pretrained(tmp_path / "st", pooling="mean").pooling == "mean"


def test_the_packaged_model_is_read_as_what_it_is():
    from helpers.loading import default_model_path
    from helpers.st_directory import own_settings

    assert own_settings(None, None, None) == (default_model_path(), "mean", True)
    assert own_settings(None, "max", False)[1:] == ("max", False)  # given settings win


def test_a_sentence_transformers_module_we_cannot_run_is_refused(tiny_model_dir, tmp_path):
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir)
    MultiTaskModel(encoder, SENTENCE_TASKS, projection_dim=8, seed=0).export_sentence_transformer(
        tmp_path / "st")  # the projection is a Dense module
    with pytest.raises(ValueError, match=r"module\(s\) \['Dense'\] cannot be used as a backbone"):
        SentenceEncoder.from_pretrained(tmp_path / "st")
    (tmp_path / "st" / "1_Pooling" / "config.json").write_text(
        '{"pooling_mode_mean_sqrt_len_tokens": true}')
    (tmp_path / "st" / "modules.json").write_text(
        '[{"type": "sentence_transformers.models.Transformer", "path": ""},'
        ' {"type": "sentence_transformers.models.Pooling", "path": "1_Pooling"}]')
    with pytest.raises(ValueError, match="pooling_mode_mean_sqrt_len_tokens"):
        SentenceEncoder.from_pretrained(tmp_path / "st")


def test_the_command_line_encodes_with_the_directorys_own_pooling(run_here, tiny_model_dir,
                                                                  tmp_path):
    encoder = SentenceEncoder.from_pretrained(tiny_model_dir, pooling="cls", normalize=False)
    MultiTaskModel(encoder, SENTENCE_TASKS, seed=0).export_sentence_transformer(tmp_path / "st")
    code, out, _ = run_here("encode", "Hi there.", "--model", str(tmp_path / "st"))
    vector = encoder.encode(["Hi there."])[0]
    assert code == 0
    assert " ".join(f"{value:+.4f}" for value in vector[:5]) in out
    assert f"norm {float((vector ** 2).sum() ** 0.5):.3f}" in out
