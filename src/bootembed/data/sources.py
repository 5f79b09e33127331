"""Configurable data sources: a local mirror directory or the official downloads.

Every loader in :mod:`bootembed.data` reads its files through :class:`DataSources`, addressing
them by a *relative path in the mirror layout* (the layout of the project's reference mirror,
e.g. ``flores200/dev/hau_Latn.dev``). Two modes exist:

- ``"local"``: ``root`` is a mirror directory laid out like that (CI and tests point it at the
  shared mirror). Missing files raise :class:`DataError`.
- ``"download"``: ``root`` is a cache directory with the same layout. A missing file is
  downloaded once from its official URL (``pooch`` for http(s), ``urllib`` for ``file://``),
  written atomically into the cache, checked against :data:`KNOWN_SHA256` where a checksum is
  known, and read locally from then on.

Official sources (URL templates are in :func:`official_url`):

- FLORES-200: the NLLB release tarball ``flores200_dataset.tar.gz`` (NLLB Team et al., 2022),
  extracted into ``flores200/{dev,devtest}/``.
- SIB-200: ``dadelani/sib-200`` ``data/annotated/<code>/{train,dev,test}.tsv`` (pinned commit).
- SemRel 2024: ``semantic-textual-relatedness/Semantic_Relatedness_SemEval2024`` (pinned commit
  :data:`SEMREL_COMMIT`, the release of the test labels), ``Track A`` / ``Track B`` / ``Track C``
  files, see :data:`SEMREL_OFFICIAL_PATHS`.
- Tatoeba: ``facebookresearch/LASER`` ``data/tatoeba/v1`` (pinned commit).
- XL-LoRA pairs: ``mbasoz/xllora-embedding`` ``data/`` (pinned commits).
- SICK: ``kkalouli/SICK-processing`` ``SICK.txt`` (pinned commit).
- SWIM-IR exemplars: ``google-research-datasets/swim-ir`` ``*-prompts.csv`` (pinned commit).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Literal, TypeVar

from pydantic import Field

from bootembed.schema import Section

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: A download function: ``fetch(url, dest)`` writes the bytes at ``url`` to the file ``dest``.
Fetch = Callable[[str, Path], None]

MODES: tuple[str, ...] = ("local", "download")

FLORES_URL = "https://dl.fbaipublicfiles.com/nllb/flores200_dataset.tar.gz"
FLORES_ARCHIVE = "_downloads/flores200_dataset.tar.gz"
#: sha256 of downloads whose bytes are known (the FLORES-200 tarball: the same digest is published by
#: two independent public projects). A download that differs is deleted and raises :class:`DataError`.
#: Every other source is pinned by a commit in its URL.
KNOWN_SHA256: dict[str, str] = {
    FLORES_URL: "b8b0b76783024b85797e5cc75064eb83fc5288b41e9654dabc7be6ae944011f6",
}

_RAW = "https://raw.githubusercontent.com"
# Commits below are ones at which a public code index showed the file at that path.
SIB200_COMMIT = "e7a172159963fd28c65f1ea53a0cea931bd08719"
LASER_COMMIT = "fec5c7d63daa2bea9d127e8252b10e87278586c0"
SICK_COMMIT = "b55cf253c6ae9f5b5c9b287184e34147a5d7fc67"
XLLORA_FILES: dict[str, str] = {
    "mixed_parallel_xnli_14l_opusmt_10k_fin_pos.csv": "a1b70078e582d2f1fc198ffbe19825b1423314f3",
    "mixed_parallel_xnli_14l_opusmt_10k_fin_neg.csv": "7dc4a39f849bb91e35f531d700260baf7f4a3465",
}
#: SWIM-IR's few-shot exemplars (google-research-datasets/swim-ir), pinned to the commit that added them.
SWIM_IR_COMMIT = "653fad75c22b7fed0f420ec54fcce707971a640c"
SWIM_IR_FILES = ("XOR-Retrieve-prompts.csv", "MIRACL-prompts.csv", "xtreme-up-prompts.csv")
SEMREL_REPO = "semantic-textual-relatedness/Semantic_Relatedness_SemEval2024"
#: The commit that added the test labels (``*_test_with_labels.csv``), not the moving ``main``.
SEMREL_COMMIT = "8f1844dcee4325626685113ce39df7215bd8dffb"
#: (SemRel code, split) -> path in the official repository (branch ``main``). The mirror's
#: ``semrel2024/<code>/<split>.csv`` holds the same columns (``PairID, Text, Score``); its
#: ``hau/dev.csv`` has the text of the official ``Track A/hau/hau_dev_with_labels.csv``.
#: Verification status (public code index, not a live check):
#: seen in the official repo: afr dev/test, arb dev/test, arq dev/test, ary dev/test, eng
#: train/test, esp dev, hau dev/test, hin dev/test, ind test, mar dev/test, tel train/dev/test;
#: ``Track A/<l>/<l>_train.csv`` for arq/ary/esp/hau/mar is the URL pattern used by third-party
#: code; eng dev (``Track C``) and ind dev (``Track B``) were only seen in a fork of the repo.
SEMREL_OFFICIAL_PATHS: dict[tuple[str, str], str] = {
    ("afr", "dev"): "Track C/afr/afr_dev_with_labels.csv",
    ("afr", "test"): "Track C/afr/afr_test_with_labels.csv",
    ("arb", "dev"): "Track B/arb/arb_dev_with_labels.csv",
    ("arb", "test"): "Track C/arb/arb_test_with_labels.csv",
    ("arq", "train"): "Track A/arq/arq_train.csv",
    ("arq", "dev"): "Track A/arq/arq_dev_with_labels.csv",
    ("arq", "test"): "Track A/arq/arq_test_with_labels.csv",
    ("ary", "train"): "Track A/ary/ary_train.csv",
    ("ary", "dev"): "Track C/ary/ary_dev_with_labels.csv",
    ("ary", "test"): "Track C/ary/ary_test_with_labels.csv",
    ("eng", "train"): "Track A/eng/eng_train.csv",
    ("eng", "dev"): "Track C/eng/eng_dev_with_labels.csv",
    ("eng", "test"): "Track C/eng/eng_test_with_labels.csv",
    ("esp", "train"): "Track A/esp/esp_train.csv",
    ("esp", "dev"): "Track C/esp/esp_dev_with_labels.csv",
    ("hau", "train"): "Track A/hau/hau_train.csv",
    ("hau", "dev"): "Track A/hau/hau_dev_with_labels.csv",
    ("hau", "test"): "Track A/hau/hau_test_with_labels.csv",
    ("hin", "dev"): "Track C/hin/hin_dev_with_labels.csv",
    ("hin", "test"): "Track C/hin/hin_test_with_labels.csv",
    ("ind", "dev"): "Track B/ind/ind_dev_with_labels.csv",
    ("ind", "test"): "Track C/ind/ind_test_with_labels.csv",
    ("mar", "train"): "Track A/mar/mar_train.csv",
    ("mar", "dev"): "Track A/mar/mar_dev_with_labels.csv",
    ("mar", "test"): "Track A/mar/mar_test_with_labels.csv",
    ("tel", "train"): "Track A/tel/tel_train.csv",
    ("tel", "dev"): "Track A/tel/tel_dev_with_labels.csv",
    ("tel", "test"): "Track A/tel/tel_test_with_labels.csv",
}

_FLORES_MEMBER = re.compile(
    r"(dev/[a-z]{3}_[A-Z][a-z]{3}\.dev|devtest/[a-z]{3}_[A-Z][a-z]{3}\.devtest"
    r"|metadata_dev\.tsv|metadata_devtest\.tsv|README)"
)


class DataError(ValueError):
    """A data file is missing or malformed.

    The message names the file, the line and field when known, and what was expected.

    Args:
        file: The offending file (or, when called with a single argument, the full message).
        expected: What was expected instead.
        field: Column / field name, if any.
        line: 1-based line number in the file, if any.

    Example:
        >>> str(DataError("x.tsv", "header index_id, category, text", line=1))
        'x.tsv: line 1: expected header index_id, category, text'
    """

    def __init__(
        self,
        file: str | os.PathLike[str],
        expected: str | None = None,
        *,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = str(file)
        self.expected = expected
        self.field = field
        self.line = line
        if expected is None and field is None and line is None:
            message = self.file
        else:
            parts = [self.file]
            if line is not None:
                parts.append(f"line {line}")
            if field is not None:
                parts.append(f"field {field!r}")
            message = ": ".join(parts) + f": expected {expected}"
        super().__init__(message)


class DataSourceConfig(Section):
    """Where the data comes from: the ``data`` section of ``params.yaml``.

    Attributes:
        mode: ``"local"`` (read a mirror directory) or ``"download"`` (fetch the official
            files once into a cache directory laid out like the mirror).
        root: Mirror directory (local) or cache directory (download). A relative path is
            resolved against the ``base_dir`` given to :class:`DataSources`.

    Raises:
        pydantic.ValidationError: If ``mode`` is not one of :data:`MODES` or ``root`` is empty.
    """

    mode: Literal["local", "download"]
    root: str = Field(min_length=1, pattern=r"\S")


def default_fetch(url: str, dest: Path, *, timeout: float = 120.0) -> None:
    """Download ``url`` to ``dest`` atomically: ``pooch`` for http(s), ``urllib`` for ``file://``.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dest: Destination file; its parent directory must exist.
        timeout: Socket timeout in seconds.

    Raises:
        urllib.error.URLError, OSError: On network or file errors (no partial file is left).
        requests.RequestException: On HTTP errors (pooch).
    """
    if urllib.parse.urlparse(url).scheme in ("http", "https"):
        import pooch

        pooch.retrieve(
            url,
            known_hash=None,
            fname=dest.name,
            path=dest.parent,
            downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False),
        )
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out, length=1 << 20)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _github_raw(repo: str, ref: str, path: str) -> str:
    return f"{_RAW}/{repo}/{ref}/{urllib.parse.quote(path)}"


def official_url(relpath: str) -> str:
    """The official download URL for a file of the mirror layout.

    Args:
        relpath: POSIX path in the mirror layout, e.g. ``"sib200/annotated/hau_Latn/dev.tsv"``.

    Returns:
        The URL. For ``flores200/...`` files this is the release tarball :data:`FLORES_URL`
        (the file is a member of it).

    Raises:
        DataError: If no official source is known for ``relpath``.
    """
    parts = PurePosixPath(relpath).parts
    if parts and parts[0] == "flores200":
        return FLORES_URL
    if len(parts) == 4 and parts[:2] == ("sib200", "annotated"):
        if parts[3] in ("train.tsv", "dev.tsv", "test.tsv"):
            return _github_raw("dadelani/sib-200", SIB200_COMMIT, f"data/{'/'.join(parts[1:])}")
    if len(parts) == 3 and parts[0] == "semrel2024" and parts[2].endswith(".csv"):
        path = SEMREL_OFFICIAL_PATHS.get((parts[1], parts[2][: -len(".csv")]))
        if path is not None:
            return _github_raw(SEMREL_REPO, SEMREL_COMMIT, path)
    if len(parts) == 2 and parts[0] == "tatoeba" and parts[1].startswith("tatoeba."):
        return _github_raw("facebookresearch/LASER", LASER_COMMIT, f"data/tatoeba/v1/{parts[1]}")
    if len(parts) == 2 and parts[0] == "xllora" and parts[1] in XLLORA_FILES:
        return _github_raw("mbasoz/xllora-embedding", XLLORA_FILES[parts[1]], f"data/{parts[1]}")
    if len(parts) == 2 and parts[0] == "swim_ir_prompts" and parts[1] in SWIM_IR_FILES:
        return _github_raw("google-research-datasets/swim-ir", SWIM_IR_COMMIT, parts[1])
    if tuple(parts) == ("sick", "SICK.txt"):
        return _github_raw("kkalouli/SICK-processing", SICK_COMMIT, "SICK.txt")
    raise DataError(relpath, "a file with a known official download URL")


def _check_relpath(relpath: str) -> PurePosixPath:
    rel = PurePosixPath(relpath)
    if not relpath or rel.is_absolute() or any(p in ("..", "") for p in rel.parts):
        raise DataError(relpath, "a relative path inside the data root without '..'")
    return rel


class DataSources:
    """Resolves mirror-layout relative paths to local files, downloading them if configured.

    Args:
        config: Mode and root directory.
        base_dir: Directory that a relative ``config.root`` is resolved against
            (default: the current working directory).
        fetch: Download function ``fetch(url, dest)`` (default :func:`default_fetch`); tests
            pass a fake.

    Example:
        >>> sources = DataSources(DataSourceConfig(mode="local", root="/data/mirror"))  # doctest: +SKIP
        >>> sources.file("flores200/dev/hau_Latn.dev")  # doctest: +SKIP
        PosixPath('/data/mirror/flores200/dev/hau_Latn.dev')
    """

    def __init__(
        self,
        config: DataSourceConfig,
        base_dir: str | Path | None = None,
        *,
        fetch: Fetch | None = None,
    ) -> None:
        self.config = config
        root = Path(config.root).expanduser()
        if not root.is_absolute():
            root = Path(base_dir if base_dir is not None else Path.cwd()) / root
        self._root = root.resolve()
        self._fetch: Fetch = fetch if fetch is not None else default_fetch

    @property
    def root(self) -> Path:
        """Absolute mirror (local mode) or cache (download mode) directory."""
        return self._root

    @property
    def mode(self) -> str:
        """``"local"`` or ``"download"``."""
        return self.config.mode

    def available(self, relpath: str) -> bool:
        """Whether ``relpath`` can be read: present on disk, or downloadable in download mode."""
        rel = _check_relpath(relpath)
        if (self._root / rel).is_file():
            return True
        if self.mode != "download":
            return False
        try:
            official_url(relpath)
        except DataError:
            return False
        return True

    def file(self, relpath: str) -> Path:
        """Local path of a file in mirror layout, downloading it first in download mode.

        Args:
            relpath: POSIX path relative to the root, e.g. ``"flores200/dev/hau_Latn.dev"``.

        Returns:
            Absolute path of an existing file.

        Raises:
            DataError: If the path is invalid, the file is absent (local mode), or it cannot be
                downloaded (download mode: unknown URL, network error, missing tar member).
        """
        rel = _check_relpath(relpath)
        path = self._root / rel
        if path.is_file():
            return path
        if self.mode == "local":
            raise DataError(
                path,
                f"an existing file in the local data mirror {self._root} "
                "(use data source mode 'download' to fetch the official release)",
            )
        url = official_url(relpath)
        if rel.parts[0] == "flores200":
            self._download_flores()
        else:
            self._download(url, path)
        if not path.is_file():
            raise DataError(path, f"to be provided by the official download {url}")
        return path

    def _download(self, url: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        logger.info("Downloading %s -> %s", url, dest)
        try:
            self._fetch(url, dest)
        except Exception as exc:  # noqa: BLE001 - network, HTTP and file errors all become one DataError
            raise DataError(dest, f"a successful download from {url} ({exc})") from exc
        if not dest.is_file():
            raise DataError(dest, f"a file written by the download from {url}")
        expected = KNOWN_SHA256.get(url)
        if expected is not None:
            from bootembed.provenance import file_digest

            got = file_digest(dest)
            if got != expected:
                dest.unlink()
                raise DataError(dest, f"sha256 {expected} for the download from {url}, got {got}")

    def _download_flores(self) -> None:
        """Download the FLORES-200 tarball once and extract dev/devtest/metadata files."""
        archive = self._root / FLORES_ARCHIVE
        if not archive.is_file():
            self._download(FLORES_URL, archive)
        out_root = self._root / "flores200"
        n = 0
        try:
            with tarfile.open(archive, "r:*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    parts = [p for p in PurePosixPath(member.name).parts if p not in (".", "")]
                    # Members look like "flores200_dataset/dev/hau_Latn.dev"; drop the top dir.
                    tail = "/".join(parts[1:])
                    if not _FLORES_MEMBER.fullmatch(tail):
                        continue
                    src = tar.extractfile(member)
                    if src is None:
                        continue
                    dest = out_root / tail
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
                    with os.fdopen(fd, "wb") as out, src:
                        shutil.copyfileobj(src, out)
                    os.replace(tmp, dest)
                    n += 1
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(archive, f"a readable FLORES-200 tar.gz archive ({exc})") from exc
        logger.info("Extracted %d FLORES-200 files into %s", n, out_root)


def cached_parser(func: Callable[[Path], _T]) -> Callable[[Path], _T]:
    """Decorator: memoise ``func(path)`` on (path, mtime, size), so rewritten files are re-parsed.

    ``func`` must return an immutable value (tuples of frozen dataclasses).

    Raises:
        DataError: If the file does not exist.
    """

    @functools.lru_cache(maxsize=256)
    def _cached(path: str, mtime_ns: int, size: int) -> _T:
        del mtime_ns, size
        return func(Path(path))

    @functools.wraps(func)
    def wrapper(path: Path) -> _T:
        try:
            st = path.stat()
        except OSError as exc:
            raise DataError(path, "an existing readable file") from exc
        return _cached(str(path), st.st_mtime_ns, st.st_size)

    return wrapper


def read_text(path: Path) -> str:
    """Read a UTF-8 file with newlines untranslated (parsers cache via :func:`cached_parser`).

    Raises:
        DataError: If the file is missing or not valid UTF-8.
    """
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except UnicodeDecodeError as exc:
        raise DataError(path, f"UTF-8 text ({exc})") from exc
    except OSError as exc:
        raise DataError(path, f"an existing readable file ({exc})") from exc


def parse_field(
    raw: str, convert: Callable[[str], _T], expected: str, path: Path, *, field: str, line: int
) -> _T:
    """One field of a data file, converted (``int``, ``float``, ...).

    Args:
        raw: the field's text.
        convert: text -> value; raises ``ValueError`` on a bad value.
        expected: what the field should hold, for the message (``"an integer"``).
        path: the data file.
        field: the field's name.
        line: its 1-based line number.

    Raises:
        DataError: ``convert`` rejects ``raw`` (naming the file, line, field, what was expected and the text).
    """
    try:
        return convert(raw)
    except ValueError:
        raise DataError(path, f"{expected}, got {raw!r}", field=field, line=line) from None
