import pytest

from kubesim.loadgen.gotemplate import TemplateError, render


def test_fields_variables_and_functions():
    text = ('{{$n := DefaultParam .N 3}}{{$pods := MultiplyInt $n .PerNode}}'
            'name: {{.Name}}\nreplicas: {{$pods}}\nhalf: {{DivideInt $pods 2}}\nq: {{DivideFloat 1 4}}')
    assert render(text, {"Name": "x-1", "PerNode": 30}) == "name: x-1\nreplicas: 90\nhalf: 45\nq: 0.25"
    assert "replicas: 150" in render(text, {"Name": "x", "PerNode": 30, "N": 5})


def test_pipelines_parentheses_and_trim_markers():
    assert render("{{ 5 | AddInt 2 }}", {}) == "7"
    assert render("{{MaxInt 1 (DivideInt (SubtractInt (AddInt .Nodes 99) 1) 100)}}", {"Nodes": 250}) == "3"
    assert render("a  {{- 1 -}}  b", {}) == "a1b"
    assert render("{{/* a comment */}}x", {}) == "x"


def test_if_else_and_comparisons():
    text = "{{if eq .Mode \"ipvs\"}}ipvs{{else if .Fallback}}fb{{else}}iptables{{end}}"
    assert render(text, {"Mode": "ipvs"}) == "ipvs"
    assert render(text, {"Mode": "", "Fallback": True}) == "fb"
    assert render(text, {"Mode": "x"}) == "iptables"
    assert render("{{if .Unset}}y{{else}}n{{end}}", {}) == "n"


def test_unset_parameter_is_an_error_naming_it_and_the_line():
    with pytest.raises(TemplateError, match=r"line 3: parameter \.CpuRequest is not set"):
        render("a\nb\ncpu: {{.CpuRequest}}\n", {})
    with pytest.raises(TemplateError, match=r"parameter \.Nodes is not set"):
        render("{{MultiplyInt .Nodes 2}}", {})


def test_unknown_function_and_unbalanced_blocks():
    with pytest.raises(TemplateError, match="function 'Nope' is not defined"):
        render("{{Nope 1}}", {})
    with pytest.raises(TemplateError, match="without"):
        render("{{if .X}}a", {"X": 1})
    with pytest.raises(TemplateError, match="not supported"):
        render("{{range .X}}a{{end}}", {})
