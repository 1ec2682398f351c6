"""Installing a Vosk model a user supplies (a folder or the official zip), with verification.

The files of a supplied model are compared with the known sizes and SHA-256 of
the official ``vosk-model-small-fr-0.22`` (the French model recommended for
telephone speech): all equal → "modèle vérifié"; otherwise the model is still
installed if it is a Vosk model, reported as "modèle inconnu". A zip is read
member by member: no absolute path, no ``..``, no link, a bounded total size.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from callcenter.domain.errors import DomainError
from callcenter.formatting import quantity

KNOWN_MODEL_NAME = "vosk-model-small-fr-0.22"
MAX_UNPACKED_BYTES = 4 * 1024**3
# Size, SHA-256 and path of every file of the official vosk-model-small-fr-0.22.
# A line without size and hash (an empty file in the official listing) is only
# required to exist.
KNOWN_MODEL_CHECKSUMS = """\
354 a036c27a5f30d95910f739ce9466539a5772cd13541e5fdddfbfae187993f8d8 README
15978979 580d99752e3f6f31fb4a03403b0b2a3a78b9665937e2823668b46d9c9ce1a1a1 am/final.mdl
153 6c326fea5741c2d78be12f76eb1b36ea2ace040da9e355e4cfe6bb80e5f7d5ab conf/mfcc.conf
289 d8d91d310a9659fed2d89f8ea4996af6163a43c3ab008cd278e4264120551712 conf/model.conf
24029163 4d5aefc6af664d1c47979ae3b9eb7e972c196e843ff4eee65e4c7b0c064723cf graph/Gr.fst
18331442 6562aee2cffac5ad2e569584bc8ca22b1bae0ce9e6e03f0f9898d9d7c267eaa5 graph/HCLr.fst
380 fd844580478d2c0dbb01e408f77fce92a343a9fe05c304fea57a0d8e3122d7b1 graph/disambig_tid.int
1626 262452069835201f18fd4de64c4816a2333a54c80b4114084d75e1c4eb273836 graph/phones/word_boundary.int
168048 15c6736f097e9a1fbc3811a75a666da39cb9aa4526acea29d25f2a3003357acc ivector/final.dubm
9927287 bd52bc5aeef1f35349c7a6fd3fb671a4a877ba04181da30d99f2cf01d4b75dd5 ivector/final.ie
44975 61818a44ae3519708e9a31701da4ab351f3e19d7bd3e4ddfd820fd7f121cfad0 ivector/final.mat
1076 9d94d076adc26cd578cc4cf702dc41e5ea6de202f4563d6f0d4b4d4fdbb46bc1 ivector/global_cmvn.stats
  ivector/online_cmvn.conf
35 9f0c5f7c82d18eaf25d8bce470efa9f7741f88411fe428774bc0a9bb69a24756 ivector/splice.conf
"""


@dataclass(frozen=True)
class KnownFile:
    path: str
    size: int | None
    sha256: str | None


def known_files(listing: str = KNOWN_MODEL_CHECKSUMS) -> list[KnownFile]:
    files = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3:
            files.append(KnownFile(path=parts[2], size=int(parts[0]), sha256=parts[1]))
        elif len(parts) == 1:
            files.append(KnownFile(path=parts[0], size=None, sha256=None))
    return files


@dataclass
class Verification:
    known: bool
    differences: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"modèle vérifié ({KNOWN_MODEL_NAME})" if self.known else "modèle inconnu"


@dataclass(frozen=True)
class Installed:
    path: Path
    verification: Verification

    @property
    def message(self) -> str:
        lines = [f"Modèle installé dans {self.path} : {self.verification.label}."]
        if not self.verification.known:
            lines.append(
                f"Il ne correspond pas au modèle officiel {KNOWN_MODEL_NAME} "
                f"({quantity(len(self.verification.differences), 'écart')}, par exemple : "
                + "; ".join(self.verification.differences[:3])
                + ")."
            )
        lines.append(f'Indiquez-le dans config.toml : [speech] model_path = "{self.path}"')
        return "\n".join(lines)


def is_vosk_model(path: Path) -> bool:
    """A Vosk model folder holds an acoustic model (``am/final.mdl``) and a ``conf`` folder."""
    return (path / "am" / "final.mdl").is_file() and (path / "conf").is_dir()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model: Path, files: list[KnownFile] | None = None) -> Verification:
    """Compare a model folder with the official French small model, file by file."""
    differences = []
    for known in files if files is not None else known_files():
        path = model / known.path
        if not path.is_file():
            differences.append(f"{known.path} absent")
        elif known.size is not None and path.stat().st_size != known.size:
            differences.append(f"{known.path} : taille {path.stat().st_size} ≠ {known.size}")
        elif known.sha256 is not None and _sha256(path) != known.sha256:
            differences.append(f"{known.path} : empreinte SHA-256 différente")
    return Verification(known=not differences, differences=differences)


def _model_root(folder: Path) -> Path:
    """The folder itself, or its single subfolder holding the model (the official zip's)."""
    if is_vosk_model(folder):
        return folder
    for child in sorted(folder.iterdir()):
        if child.is_dir() and is_vosk_model(child):
            return child
    raise DomainError(
        f"{folder.name} n'est pas un modèle Vosk : am/final.mdl et conf/ sont introuvables."
    )


def _safe_extract(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            total = 0
            for member in bundle.infolist():
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in member.filename:
                    raise DomainError(f"Archive refusée : chemin dangereux « {member.filename} ».")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise DomainError(f"Archive refusée : lien « {member.filename} ».")
                total += member.file_size
                if total > MAX_UNPACKED_BYTES:
                    raise DomainError("Archive refusée : plus de 4 Go une fois décompressée.")
            bundle.extractall(target)
    except zipfile.BadZipFile as error:
        raise DomainError(f"{archive.name} n'est pas une archive zip lisible.") from error


def install_model(source: Path, *, models_dir: Path) -> Installed:
    """Copy a model (folder or zip) under ``models_dir``, verify it, say whether it is known."""
    if not source.exists():
        raise DomainError(f"Introuvable : {source}.")
    models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=models_dir, prefix=".install-") as work:
        if source.is_dir():
            root = _model_root(source)
        elif source.suffix.lower() == ".zip":
            _safe_extract(source, Path(work))
            root = _model_root(Path(work))
        else:
            raise DomainError(
                f"{source.name} : donnez un dossier de modèle Vosk ou son archive zip."
            )
        verification = verify(root)
        name = root.name if root.name and not root.name.startswith(".install-") else "modele"
        destination = models_dir / name
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(root, destination)
    return Installed(path=destination.resolve(), verification=verification)
