"""The ``toy`` task: a random-feature student of the power-law toy model (:mod:`jetscale.data.toy`)."""

from __future__ import annotations

from jetscale.theory.random_features import rf_test_error


def evaluate(net, datamodule) -> dict[str, float]:
    """``test_loss``: the exact excess error E_g of the student's effective weights (label noise excluded);
    ``test_mse``: the empirical mean squared error on the test split."""
    weights = net.effective_weights()
    x, y = datamodule.split("test")
    return {
        "test_loss": datamodule.source.excess_error(weights),
        "test_mse": float(((x @ weights - y) ** 2).mean()),
    }


def theory_loss(datamodule, width: int, ridge: float) -> float:
    """Deterministic-equivalent prediction of ``test_loss`` at this point."""
    s = datamodule.source
    return rf_test_error(s.alpha, s.r, width, datamodule.n_train, ridge, s.latent_dim, s.noise).test_error
