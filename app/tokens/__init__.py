"""Instagram access tokens: obtained by connecting an account (oauth, with
meta's client), kept fresh by the daily job (refresh, job)."""
