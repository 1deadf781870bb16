"""`python -m fingerspell`: the same as the `fingerspell` command."""

from fingerspell.cli import main

main()
