"""The result's artifacts name the module's mutation files that are stored, and only those."""

from harness.evaluate import shape

SPEC = "[module spec](../../suites/m/module.yml)"
BASE = ["[results.json](results.json)", "[pytest.log](pytest.log)", SPEC, "docs/extra.md"]
HTML, JSON = "[mutation.html](mutation.html)", "[mutation.json](mutation.json)"


def test_the_stored_mutation_files_go_before_the_specs_link():
    result = shape.mutation_artifacts({"artifacts": BASE}, ["mutation.json", "mutation.html"])
    assert result["artifacts"] == [*BASE[:2], HTML, JSON, *BASE[2:]]


def test_a_record_without_its_page_links_only_the_record_and_listing_again_changes_nothing():
    once = shape.mutation_artifacts({"artifacts": BASE}, ["mutation.json"])
    assert once["artifacts"] == [*BASE[:2], JSON, *BASE[2:]]
    both = shape.mutation_artifacts(once, ["mutation.json", "mutation.html"])
    assert shape.mutation_artifacts(both, ["mutation.html", "mutation.json"]) == both


def test_no_mutation_files_no_links_even_if_the_result_had_them():
    listed = {"artifacts": [*BASE[:2], HTML, JSON, *BASE[2:]]}
    assert shape.mutation_artifacts(listed, [])["artifacts"] == BASE
    assert shape.mutation_artifacts({}, [])["artifacts"] == []  # a result stored without artifacts
