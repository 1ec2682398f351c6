"""Installing a Vosk model (folder or zip), checked against the official French checksums."""

import hashlib
import zipfile

import pytest

from callcenter.domain.errors import DomainError
from callcenter.domain.speech.install import (
    KNOWN_MODEL_NAME,
    KnownFile,
    install_model,
    known_files,
    verify,
)


def fake_model(root):
    files = {"am/final.mdl": b"acoustique", "conf/model.conf": b"--sample-frequency=16000\n"}
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def test_the_embedded_list_is_the_official_french_small_model():
    files = {item.path: item for item in known_files()}
    assert len(files) == 14
    assert files["am/final.mdl"].size == 15978979
    assert files["am/final.mdl"].sha256.startswith("580d99752e3f")
    assert files["ivector/online_cmvn.conf"].size is None


def test_a_folder_is_installed_and_reported_unknown_when_it_is_not_the_official_model(tmp_path):
    source = tmp_path / "mon-modele"
    fake_model(source)
    installed = install_model(source, models_dir=tmp_path / "models")
    assert installed.path == (tmp_path / "models" / "mon-modele").resolve()
    assert (installed.path / "am" / "final.mdl").read_bytes() == b"acoustique"
    assert installed.verification.known is False
    assert "modèle inconnu" in installed.message
    assert "am/final.mdl : taille" in installed.message
    assert f'model_path = "{installed.path}"' in installed.message


def test_verification_says_verified_when_every_size_and_hash_match(tmp_path):
    files = fake_model(tmp_path)
    listing = [
        KnownFile(path=name, size=len(content), sha256=hashlib.sha256(content).hexdigest())
        for name, content in files.items()
    ]
    assert verify(tmp_path, listing).known is True
    assert verify(tmp_path, listing).label == f"modèle vérifié ({KNOWN_MODEL_NAME})"
    (tmp_path / "conf" / "model.conf").write_bytes(b"--sample-frequency=8000\n")
    assert verify(tmp_path, listing).differences == ["conf/model.conf : taille 24 ≠ 25"]


def test_the_official_zip_layout_is_unpacked(tmp_path):
    source = tmp_path / "source" / KNOWN_MODEL_NAME
    files = fake_model(source)
    archive = tmp_path / f"{KNOWN_MODEL_NAME}.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(f"{KNOWN_MODEL_NAME}/{name}", content)
    installed = install_model(archive, models_dir=tmp_path / "models")
    assert installed.path.name == KNOWN_MODEL_NAME
    assert (installed.path / "conf" / "model.conf").exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [KNOWN_MODEL_NAME]


@pytest.mark.parametrize(
    ("member", "message"),
    [("../evil/am/final.mdl", "chemin dangereux"), ("/etc/am/final.mdl", "chemin dangereux")],
)
def test_a_zip_escaping_its_folder_is_refused(tmp_path, member, message):
    archive = tmp_path / "piege.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(member, b"x")
    with pytest.raises(DomainError, match=message):
        install_model(archive, models_dir=tmp_path / "models")
    assert not (tmp_path / "evil").exists()


def test_not_a_model_is_refused_in_french(tmp_path):
    (tmp_path / "vide").mkdir()
    with pytest.raises(DomainError, match="n'est pas un modèle Vosk"):
        install_model(tmp_path / "vide", models_dir=tmp_path / "models")
    (tmp_path / "notes.txt").write_text("bonjour")
    with pytest.raises(DomainError, match="dossier de modèle Vosk ou son archive zip"):
        install_model(tmp_path / "notes.txt", models_dir=tmp_path / "models")
    broken = tmp_path / "casse.zip"
    broken.write_bytes(b"pas un zip")
    with pytest.raises(DomainError, match="pas une archive zip lisible"):
        install_model(broken, models_dir=tmp_path / "models")
