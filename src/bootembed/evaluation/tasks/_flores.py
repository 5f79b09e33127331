"""What the FLORES-200 ``devtest`` tasks (bitext mining, retrieval) share: the data they read and where it comes from.

Not a task itself (the registry skips modules whose name starts with ``_``).
"""

from __future__ import annotations

from bootembed.data.flores import load_flores
from bootembed.evaluation.local import ENGLISH
from bootembed.evaluation.tasks.base import AbsTask, DataSources, ParallelTask

__all__ = ["FloresDevtestTask"]


class FloresDevtestTask(ParallelTask):
    """A task over the line-aligned FLORES-200 ``devtest`` sentences of the evaluated language and of English."""

    split = "devtest"
    data = (
        "${data.root}/flores200/devtest/${item.language}.devtest",
        "${data.root}/flores200/devtest/eng_Latn.devtest",
    )
    reference = "https://github.com/facebookresearch/flores/tree/main/flores200"
    dataset_path = "local/flores200"
    license = "cc-by-sa-4.0"
    bibtex = r"""@article{nllb2022,
  title = {No Language Left Behind: Scaling Human-Centered Machine Translation},
  author = {{NLLB Team} and others},
  journal = {arXiv preprint arXiv:2207.04672},
  year = {2022},
}"""

    def build(self, sources: DataSources, lang: str, *, limit: int | None, seed: int) -> AbsTask:
        return self.make(
            lang,
            load_flores(sources, lang, "devtest"),
            load_flores(sources, ENGLISH, "devtest"),
            limit=limit,
            seed=seed,
        )
