"""Sandboxed execution of model-written code and HumanEval-style pass@k evaluation.

Modules: :mod:`~tgrd.codeeval.isolation` (uid slots, namespaces, reaping),
:mod:`~tgrd.codeeval.sandbox` (run one program), :mod:`~tgrd.codeeval.pool` (many programs
in parallel), :mod:`~tgrd.codeeval.passk` (unbiased pass@k), :mod:`~tgrd.codeeval.problems`
(HumanEval and CodeT file layouts), :mod:`~tgrd.codeeval.humaneval` (files → results and
summary). CLI: ``tgrd evalcode --help``.
"""
