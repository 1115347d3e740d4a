
import pytest

from helpers import cli
from helpers.errors import ParamError
from helpers.params import parse_set, resolve


def test_defaults_then_year_file():
    r = resolve(2023)
    assert r.params.year == 2023
    assert r.params.departement == "17"
    assert r.params.caf_name == "Caf de la Charente-Maritime"
    assert r.params.observation_date.isoformat() == "2023-12-31"
    assert r.params.published["foyers_allocataires"] == 121067
    assert r.origins["report_title"].endswith("defaults.yaml")
    assert r.origins["caf_name"].startswith("déduit du département")
    assert r.origins["published"].endswith("2023.yaml")


def test_caf_name_follows_the_departement():
    assert resolve(2022, "33").params.caf_name == "Caf de la Gironde"
    assert resolve(2022, "01").params.caf_name == "Caf de l’Ain"
    assert resolve(2022, "59").params.caf_name == "Caf du Nord"


def test_merge_order_params_file_then_set(tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text('caf_name: "Caf de test"\nreport_title: "Titre du fichier"\n', encoding="utf-8")
    r = resolve(2023, params_file=extra, overrides=parse_set(["report_title=Titre imposé"]))
    assert r.params.caf_name == "Caf de test"
    assert r.origins["caf_name"] == f"--params {extra}"
    assert r.params.report_title == "Titre imposé"
    assert r.origins["report_title"] == "--set"


def test_unknown_key_names_key_and_origin():
    with pytest.raises(ParamError) as e:
        resolve(2023, overrides=parse_set(["nope=1"]))
    assert "« nope »" in str(e.value) and "--set" in str(e.value) and "inconnu" in str(e.value)


def test_wrong_type():
    with pytest.raises(ParamError) as e:
        resolve(2023, overrides=parse_set(["year=abc"]))
    assert "« year »" in str(e.value) and "entier" in str(e.value)


def test_year_without_parameters():
    with pytest.raises(ParamError) as e:
        resolve(1990)
    assert "1990" in str(e.value) and "2023" in str(e.value)


def test_bad_chapter_and_missing_folder():
    with pytest.raises(ParamError) as e:
        resolve(2023, overrides=parse_set(["chapters=[portrait, inconnu]"]))
    assert "chapters" in str(e.value)
    with pytest.raises(ParamError) as e:
        resolve(2023, overrides=parse_set(["cafdata_dir=/nulle/part"]))
    assert "cafdata_dir" in str(e.value) and "introuvable" in str(e.value)


def test_bad_yaml_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("year: [2023\n", encoding="utf-8")
    with pytest.raises(ParamError) as e:
        resolve(2023, params_file=bad)
    assert "YAML" in str(e.value)


@pytest.mark.parametrize("argv", [
    ["build", "--year", "2023", "--set", "year=abc"],
    ["build", "--year", "2023", "--set", "nope=1"],
    ["build", "--year", "1990"],
    ["build", "--year", "2023", "--chapters", "portrait,nimporte"],
    ["build", "--year", "2023", "--set", "departement=999"],
])
def test_cli_refuses_bad_parameters_with_exit_2_before_any_kernel(argv, monkeypatch, tmp_path, terminal):
    import helpers.build as build

    def boom(*a, **k):
        raise AssertionError("un noyau a été démarré")

    monkeypatch.setattr(build, "execute", boom)
    code = cli.main([*argv, "--out", str(tmp_path / "out")])
    assert code == 2
    err = terminal.readouterr().err
    assert "Erreur de paramètre" in err
    assert not (tmp_path / "out").exists()


def test_cli_help_is_french(terminal):
    with pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    out = terminal.readouterr().out
    assert "utilisation" in out and "afficher cette aide" in out and "année du rapport" in out


def test_command_line_in_french_without_patching_argparse(terminal):
    import argparse
    import gettext

    import pytest as _pytest

    from helpers import cli

    assert argparse._ is gettext.gettext  # the argparse module is left untouched for the whole process
    with _pytest.raises(SystemExit) as e:
        cli.main(["build"])
    err = terminal.readouterr().err
    assert e.value.code == 2 and "utilisation : rapport build" in err
    assert "rapport build : erreur : arguments obligatoires manquants : --year" in err
    with _pytest.raises(SystemExit):
        cli.main(["build", "--help"])
    out = terminal.readouterr().out
    assert "options :" in out and "afficher cette aide et quitter" in out and "portrait,ctg,cooperation" in out


def test_messages_of_the_command_line_keep_french_typography(terminal, tmp_path):
    """As printed (not through the test's plain terminal): no-break spaces before « : », inside « »."""
    from helpers import cli

    assert cli.main(["check", "--year", "2023", "--params", str(tmp_path / "absent.yaml")]) == 2
    err = terminal.raw_readouterr().err
    assert "Erreur de paramètre\u00a0:" in err and "absent.yaml\u00a0: fichier introuvable" in err
    assert "No such file" not in err


def test_a_year_in_the_params_file_cannot_contradict_the_year_asked(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("year: 2022\n", encoding="utf-8")
    with pytest.raises(ParamError, match="clé « year » \\(2022\\) différente de l’année demandée \\(2023\\)"):
        resolve(2023, params_file=f)
    f.write_text("year: 2023\ncaf_name: Caf essai\n", encoding="utf-8")
    assert resolve(2023, params_file=f).params.caf_name == "Caf essai"
