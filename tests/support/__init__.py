"""Code the test suites share, imported one way: `from support.<module> import ...`.

pytest puts tests/ on sys.path (`pythonpath` in the root pyproject.toml), so this package
is found from every suite and from tools that run outside pytest (reliability/).
"""
