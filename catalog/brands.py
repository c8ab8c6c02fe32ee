"""A product's brand, read from its name when the catalog file has no ``brand`` column.

Names in the public set lead with the brand: "Puma Men Black Shoes", "United Colors of Benetton
Women Solid Black Shirts", "Lakme Absolute Lip Colour". The brand is the words before the
first word that says whom the product is for ("Men", "Women's", "Kids"...) or, after the first
word, names a colour ("Red Tape Men..." keeps "Red"); when neither comes within the first
five words, the first word alone. A name that starts with a colour, a person or a number
("Black Leather Belt", "Men Blue Shirt", "24 Carat Ring") names no brand. Shouting is evened
out ("ADIDAS" reads "Adidas"), so that one brand is one facet value however a name spells it.
"""

from __future__ import annotations

PEOPLE = frozenset((
    "men", "women", "boys", "girls", "unisex", "kids", "man", "woman", "boy", "girl", "mens", "womens",
    "men's", "women's", "boy's", "girl's", "boys'", "girls'", "kid's", "kids'",
))
#: Words of the catalog's colour names (baseColour values), and a few more that names use.
COLOURS = frozenset((
    "beige", "black", "blue", "bronze", "brown", "burgundy", "charcoal", "coffee", "copper", "cream", "fluorescent",
    "gold", "golden", "green", "grey", "khaki", "lavender", "lime", "magenta", "maroon", "mauve", "metallic",
    "multi", "multicolour", "multicolor", "mushroom", "mustard", "navy", "nude", "off", "olive", "orange", "peach",
    "pink", "purple", "red", "rose", "rust", "sea", "silver", "skin", "steel", "tan", "taupe", "teal",
    "turquoise", "white", "yellow",
))
MAX_WORDS = 5
#: Joining words keep their lower case inside a brand ("Gini and Jony", "United Colors of Benetton").
JOINING = frozenset(("and", "of", "for", "the", "by", "&"))


def brand_from_name(name: str) -> str:
    """The brand that ``name`` leads with, or "" for an empty name."""
    words = name.replace("|", " ").split()
    if not words or not any(ch.isalpha() for ch in words[0]):
        return ""
    first = words[0].lower().strip(",.")
    if first in PEOPLE or (first in COLOURS and (len(words) == 1 or words[1].lower() in PEOPLE | COLOURS)):
        return ""
    end = 1
    for position, word in enumerate(words[:MAX_WORDS]):
        plain = word.lower().strip(",.")
        if plain in PEOPLE or (position and plain in COLOURS):
            end = max(position, 1)
            break
    return " ".join(_even(word, first=i == 0) for i, word in enumerate(words[:end]))


def _even(word: str, first: bool) -> str:
    if not first and word.lower() in JOINING:
        return word.lower()
    if word.isupper() and len(word) > 3 and word.isalpha():
        return word.capitalize()
    return word
