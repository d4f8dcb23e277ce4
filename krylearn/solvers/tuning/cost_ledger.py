"""The per-candidate cost bookkeeping shared by :class:`~krylearn.solvers.AutoSolver` and
:class:`krylearn.petsc.AutoKSP`: what each candidate was charged, the charging rule (cold first calls,
failures), the recent mean costs, and the fallback order they imply."""

from __future__ import annotations

__all__ = ["CostLedger"]


class CostLedger:
    """Charged costs per candidate and the rules both online choosers follow.

    Parameters
    ----------
    names : list of str
        The candidates.
    penalty : float
        A failure is charged ``penalty × max(its own cost, the worst recent mean, the cost of the attempt
        that rescued the call, floor)`` — so that a candidate failing before any other was measured is not
        cheap.
    floor : float
        The smallest cost a failure is charged from (e.g. 1 iteration, or 1 ms).
    fields : dict, optional
        Further per-candidate counters (initial values) kept in :attr:`stats` by the caller.

    Attributes
    ----------
    stats : dict
        ``name -> {"chosen", "costs", "failures", ...fields}``.
    """

    WINDOW = 20  # costs in a candidate's recent mean

    def __init__(self, names, penalty, floor, fields=None):
        self.penalty, self.floor = float(penalty), float(floor)
        self.stats = {n: {"chosen": 0, "costs": [], "failures": 0, **(fields or {})} for n in names}
        self._mean = {}

    def charge(self, name, cost, ok, converged, rescue):
        """Record one call of ``name`` (the tuner's choice) and return what to tell the tuner: the charged
        cost, or None for the first, converged call of a candidate — it paid one-time costs (numba kernels
        loaded or compiled, torch imported, weights read) that no later call pays, so the tuner should
        discard it and try the candidate again. ``ok``: the call counts as a success (converged, or
        stopped by the exploration cap); ``rescue``: the cost of the attempt that finally solved the call."""
        st = self.stats[name]
        st["chosen"] += 1
        if converged and st["chosen"] == 1 and st["failures"] == 0:
            return None
        if not ok:
            st["failures"] += 1
            cost = self.penalty * max(cost, max(self._mean.values(), default=0.0), rescue, self.floor)
        st["costs"].append(cost)
        self._update_mean(name)
        return cost

    def restore(self, name, stats):
        """Put saved statistics back (``AutoSolver.load``)."""
        self.stats[name] = stats
        self._update_mean(name)

    def _update_mean(self, name):
        recent = self.stats[name]["costs"][-self.WINDOW:]
        if recent:
            self._mean[name] = sum(recent) / len(recent)

    def means(self):
        """Recent mean charged cost of every candidate charged so far."""
        return self._mean

    def best(self):
        """``(name, mean)`` of the cheapest candidate that has succeeded at least once, or None."""
        means = {n: m for n, m in self._mean.items() if self.stats[n]["failures"] < self.stats[n]["chosen"]}
        if not means:
            return None
        name = min(means, key=means.get)
        return name, means[name]

    def fallback_order(self, exclude):
        """The other candidates, cheapest recent mean first, untried ones last (in their given order)."""
        tried = sorted((n for n in self.stats if n != exclude and n in self._mean), key=self._mean.get)
        return tried + [n for n in self.stats if n != exclude and n not in self._mean]
