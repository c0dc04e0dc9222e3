"""HTML templates are escaped by our rule, whatever their last extension."""

from __future__ import annotations

from notifier.demo.samples import sample_contexts
from notifier.mail.render import Renderer, _autoescape


def test_html_templates_named_html_j2_are_autoescaped() -> None:
    # Jinja's select_autoescape(["html"]) looks at the last extension only and
    # would leave "x.html.j2" unescaped; our rule must not.
    assert _autoescape("new_comment.html.j2")
    assert not _autoescape("new_comment.txt.j2")
    assert not _autoescape("new_comment.subject.j2")
    context = sample_contexts("<Blog>")["new_comment"]
    context["comment"]["body"] = "<img src=x onerror=alert(1)>"
    rendered = Renderer().render("new_comment", context)
    assert "<img src=x" not in rendered.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered.html
    assert "<img src=x onerror=alert(1)>" in rendered.text
