"""Lab specifications: models, the position-aware loader, vocabularies and JSON Schema."""

from labctl.spec.loader import LAB_FILE, LoadedLab, find_lab_dirs, lab_by_id, load_lab
from labctl.spec.models import Lab, Quiz
from labctl.spec.vocabulary import Vocabulary, default_vocabulary

__all__ = [
    "LAB_FILE",
    "Lab",
    "LoadedLab",
    "Quiz",
    "Vocabulary",
    "default_vocabulary",
    "find_lab_dirs",
    "lab_by_id",
    "load_lab",
]
