#!/usr/bin/env python3
"""Renders the DeepSeek-V3.1 fixture template's cases with `thinking` true and false through Python jinja2,
the way Hugging Face apply_chat_template does (sandboxed, trim_blocks, lstrip_blocks, loop controls), and
writes deepseek-v3.1.thinking.cases.json beside this script. The expected texts come from jinja2, not from
qiusuo. Run: python3 tests/data/render_thinking_cases.py ../shared/fixtures/chat"""
import json
import os
import sys

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise ValueError(message)


def main():
    chat_dir = sys.argv[1]
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    with open(os.path.join(chat_dir, "deepseek-v3.1.jinja"), encoding="utf-8") as f:
        tmpl = env.from_string(f.read())
    with open(os.path.join(chat_dir, "deepseek-v3.1.cases.json"), encoding="utf-8") as f:
        cases = json.load(f)
    out = []
    for c in cases:
        for thinking in (True, False):
            ctx = {k: c[k] for k in ("messages", "add_generation_prompt", "bos_token", "eos_token") if k in c}
            if "tools" in c:
                ctx["tools"] = c["tools"]
            ctx["thinking"] = thinking
            out.append({**{k: v for k, v in c.items() if k != "expected"}, "extra_context": {"thinking": thinking},
                        "expected": tmpl.render(**ctx)})
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "deepseek-v3.1.thinking.cases.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
