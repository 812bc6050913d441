"""Offline RL algorithms, one module each: BC (and filtered BC), AWAC, IQL."""
from iql_lib.algos.awac import AWAC
from iql_lib.algos.base import Algorithm
from iql_lib.algos.bc import BC
from iql_lib.algos.blanks import Blanks, BlankError
from iql_lib.algos.iql import IQL

ALGOS = {"bc": BC, "awac": AWAC, "iql": IQL}


def make_algorithm(algo: str, ob_dim: int, ac_dim: int, discrete: bool, cfg,
                   blanks: Blanks | None = None) -> Algorithm:
    """Build an algorithm; IQL needs `blanks`, the baselines ignore them."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algo {algo!r}; choose from {sorted(ALGOS)}")
    if algo == "iql":
        if blanks is None:
            raise ValueError("IQL needs the six blanks (see iql_lib.assignment.blank_sources.load_blanks)")
        return IQL(ob_dim, ac_dim, discrete, cfg, blanks)
    return ALGOS[algo](ob_dim, ac_dim, discrete, cfg)


__all__ = ["AWAC", "BC", "IQL", "Algorithm", "Blanks", "BlankError", "make_algorithm", "ALGOS"]
