"""One module per `python -m bench --only` step; bench/run.py holds the table of them."""
