"""`python -m fingerspell`: the same as the `fingerspell` command."""

from fingerspell.console import main

main()
