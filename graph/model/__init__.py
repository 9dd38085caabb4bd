"""The win-probability model: Elo ratings, their store, prediction math, the betting policy."""
