"""ipywidgets apps. Each handler is a plain function, so tests call it without a browser."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import ipywidgets as widgets
import numpy as np
import pandas as pd
from IPython.display import display

from .mistakes import wrong_predictions
from .plots import probability_bars, similarity_heatmap
from .similarity import cosine_matrix, nearest_neighbours
from .validation import check_choice, check_sentences

T = TypeVar("T")
ANY = "(any)"
EXAMPLE_SENTENCES = (
    "The striker scored twice in the second half.",
    "Our team won the match with a late goal.",
    "The new phone has a brilliant camera.",
    "My laptop battery dies within two hours.",
    "Interest rates rose again this month.",
    "The bank raised its mortgage rates.",
)


@dataclass
class Exploration:
    """What the similarity explorer shows: the matrix and the query's neighbours."""

    sentences: list[str]
    matrix: np.ndarray
    neighbours: pd.DataFrame


def _refresher(output: widgets.Output, compute: Callable[[], T], show: Callable[[T], None]
               ) -> Callable[..., None]:
    """A widget callback: recompute, then show; bad input is printed, not raised, because
    the user is typing and a traceback in the output area helps nobody."""

    def refresh(_=None) -> None:
        output.clear_output(wait=True)
        with output:
            try:
                result = compute()
            except (TypeError, ValueError) as error:
                print(f"⚠ {error}")
                return
            show(result)

    return refresh


def explore_similarity(encoder, text: str, query: str, k: int = 3) -> Exploration:
    """One sentence per non-empty line of ``text``; rank them against ``query``."""
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise ValueError("similarity explorer: type at least one sentence, one per line")
    check_sentences(sentences, "similarity explorer sentences")
    if not isinstance(query, str) or not query.strip():
        raise ValueError("similarity explorer: the query is empty; type a sentence to search for")
    vectors = encoder.encode(sentences)
    index, score = nearest_neighbours(encoder.encode([query.strip()]), vectors, k)
    neighbours = pd.DataFrame(
        {"rank": range(1, index.shape[1] + 1),
         "sentence": [sentences[i] for i in index[0]],
         "cosine": np.round(score[0], 3)}
    )
    return Exploration(sentences, cosine_matrix(vectors), neighbours)


def similarity_explorer(encoder, sentences=EXAMPLE_SENTENCES, query: str = "Who won the game?"):
    """Text area of sentences + a query box → heatmap and nearest neighbours."""
    text_box = widgets.Textarea(
        value="\n".join(sentences), description="Sentences", continuous_update=False,
        layout=widgets.Layout(width="95%", height="140px"),
    )
    query_box = widgets.Text(
        value=query, description="Query", continuous_update=False,
        layout=widgets.Layout(width="95%"),
    )
    k_slider = widgets.IntSlider(value=3, min=1, max=10, description="Top k")
    button = widgets.Button(description="Compare", button_style="primary")
    output = widgets.Output()

    def show(result: Exploration) -> None:
        print(f"Nearest to: {query_box.value.strip()!r}")
        display(result.neighbours)
        display(similarity_heatmap(result.matrix, result.sentences))

    refresh = _refresher(output, lambda: explore_similarity(
        encoder, text_box.value, query_box.value, k_slider.value), show)
    button.on_click(refresh)
    for control in (text_box, query_box, k_slider):  # text boxes fire on Enter / leaving
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([text_box, query_box, k_slider, button, output])


def predict_sentence(model, text: str) -> dict:
    """The prediction widget's handler: both tasks' label and probabilities for ``text``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("prediction widget: type a sentence first")
    return model.predict([text.strip()])[0]


def prediction_widget(model, sentence: str = "The new update made my phone painfully slow."):
    """Type a sentence, see every task's probabilities as bar charts."""
    text_box = widgets.Text(value=sentence, description="Sentence", continuous_update=False,
                            layout=widgets.Layout(width="95%"))
    button = widgets.Button(description="Predict", button_style="primary")
    output = widgets.Output()

    def show(result: dict) -> None:
        print(", ".join(f"{task}: {answer['label']}" for task, answer in result.items()))
        display(probability_bars(result, text_box.value))

    refresh = _refresher(output, lambda: predict_sentence(model, text_box.value), show)

    button.on_click(refresh)
    text_box.observe(refresh, names="value")
    refresh()
    return widgets.VBox([text_box, button, output])


def compare_predictions(models: Mapping[str, object], text: str) -> pd.DataFrame:
    """The comparison widget's handler: per task and model, the label and its probability."""
    answers = {name: predict_sentence(model, text) for name, model in models.items()}
    first = next(iter(answers.values()))
    rows = [{"task": task, "model": name, "label": answers[name][task]["label"],
             "p": round(answers[name][task]["probs"][answers[name][task]["label"]], 3)}
            for task in first for name in answers]
    return pd.DataFrame(rows).set_index(["task", "model"])


def comparison_widget(models: Mapping[str, object], sentence: str):
    """One sentence, two (or more) models side by side: labels, then each one's bars."""
    text_box = widgets.Text(value=sentence, description="Sentence", continuous_update=False,
                            layout=widgets.Layout(width="95%"))
    output = widgets.Output()

    def show(table: pd.DataFrame) -> None:
        display(table)
        for name, model in models.items():
            display(probability_bars(predict_sentence(model, text_box.value), name))

    refresh = _refresher(output, lambda: compare_predictions(models, text_box.value), show)
    text_box.observe(refresh, names="value")
    refresh()
    return widgets.VBox([text_box, output])


def filter_mistakes(table: pd.DataFrame, task: str, true: str = ANY, predicted: str = ANY,
                    rows: int = 15) -> pd.DataFrame:
    """The error browser's handler: ``task``'s mistakes with this true / predicted label
    (``ANY`` for all), highest loss first."""
    check_choice(task, sorted(set(table["task"])), "task", "error browser")
    chosen = table[table["task"] == task]
    if true != ANY:
        chosen = chosen[chosen["true"] == true]
    if predicted != ANY:
        chosen = chosen[chosen["predicted"] == predicted]
    return chosen.drop(columns="task").head(rows).reset_index(drop=True)


def error_browser(model, dataset):
    """Browse ``model``'s mistakes on ``dataset`` by task, true and predicted label."""
    table = wrong_predictions(model, dataset)
    labels = {task.name: [ANY, *task.labels] for task in model.tasks}
    task_box = widgets.Dropdown(options=model.task_names, description="Task")
    true_box = widgets.Dropdown(options=labels[task_box.value], description="True")
    predicted_box = widgets.Dropdown(options=labels[task_box.value], description="Predicted")
    output = widgets.Output()

    def show(found: pd.DataFrame) -> None:
        print(f"{len(found)} shown (highest loss first)" if len(found) else "no such mistakes")
        display(found)

    refresh = _refresher(output, lambda: filter_mistakes(
        table, task_box.value, true_box.value, predicted_box.value), show)

    def new_task(_=None) -> None:
        true_box.options = predicted_box.options = labels[task_box.value]
        refresh()

    task_box.observe(new_task, names="value")
    for control in (true_box, predicted_box):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([widgets.HBox([task_box, true_box, predicted_box]), output])
