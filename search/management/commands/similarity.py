from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from search.embedding.text import text_embedder


class Command(BaseCommand):
    help = ("Print the cosine similarity (all-MiniLM-L6-v2, as the finder runs it: int8 on the CPU unless "
            "FINDER_TEXT_INT8=0) of the first sentence to each of the others.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("sentences", nargs="+", metavar="SENTENCE")

    def handle(self, *args: object, sentences: list[str], **options: object) -> None:
        vectors = text_embedder().embed(sentences)
        for sentence, similarity in zip(sentences[1:], vectors[1:] @ vectors[0], strict=True):
            self.stdout.write(f"{similarity:.4f}  {sentence}")
