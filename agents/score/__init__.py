"""Score stage: per-frame sharpness, motion and exposure; scene cuts; hero frames."""

from agents.score.core import FrameScores, ScoreParams, ScoreState, analysis_size, score
from agents.score.heroes import HeroPicker

__all__ = ["FrameScores", "HeroPicker", "ScoreParams", "ScoreState", "analysis_size", "score"]
