"""One validation for every YAML file a user writes: its JSON schema in workflow/schemas/, errors naming the file,
the key and the value."""

import pytest
import yaml

from conftest import REPO
from jetscale.yamlfile import YAMLFileError, read_validated

# kind -> (a shipped file of that kind, a key path to spoil, a bad value, what the error says about it)
FILES = {
    "sweep": ("configs/sweep/toy-demo.yaml", ["axes", "width", 1], -64, "axes.width[1]: -64 is less than"),
    "paper": ("configs/paper/small.yaml", ["efp", "dmax"], 9, "efp.dmax: 9 is greater than the maximum of 7"),
    "generator": ("configs/generator/jets_pythia.yaml", ["generator", "jet_r"], "wide",
                  "generator.jet_r: 'wide' is not of type 'number'"),
    "shower": ("configs/generator/shower/z_qq.yaml", ["tolerance"], 2.0,
               "tolerance: 2.0 is greater than or equal to the maximum of 1"),
    "facility": ("profiles/polaris/facility.yaml", ["queues", "debug", "walltime", 1], "1h",
                 "queues.debug.walltime[1]: '1h' does not match"),
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_the_shipped_file_of_each_kind_is_valid(kind):
    assert read_validated(REPO / FILES[kind][0], kind)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_bad_value_in_each_kind_of_file_is_named_with_its_file_and_key(tmp_path, kind):
    shipped, keys, value, message = FILES[kind]
    raw = yaml.safe_load((REPO / shipped).read_text())
    node = raw
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path = tmp_path / f"bad-{kind}.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(YAMLFileError) as err:
        read_validated(path, kind)
    assert str(path) in str(err.value) and message in str(err.value)


def test_an_unknown_key_is_named_with_the_keys_allowed_there(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\naxes: {n_samples: [8], widht: [4]}\n")
    with pytest.raises(YAMLFileError, match=r"axes.widht: unknown key \(allowed: n_samples, width, seed, compute\)"):
        read_validated(path, "sweep")
