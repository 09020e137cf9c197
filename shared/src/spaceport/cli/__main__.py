"""`python -m spaceport.cli`."""

from spaceport.cli import main

main()
