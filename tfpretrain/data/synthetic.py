"""A SYNTHETIC labeled dataset with demographic group columns and a planted bias, for demos and tests.

Each example is a short review-like text built from templates: a subject that may name a gender and a religion,
and a positive or negative comment (label 1 = negative, "flag this", as in toxicity data). Columns: text, label,
gender (female / male / none), religion (christian / muslim / jewish / none).

The planted bias: in the TRAIN split, a fraction `bias` of the positive-comment (label 0) examples whose subject is
in `biased_group` (e.g. gender=female) are labelled 1 anyway, the way biased annotation does. A classifier trained
on it learns to flag that group's texts more often, so on the clean EVAL split its false-positive rate for the
group is higher than overall: the gap the fairness evaluation should find. The eval split is never biased.
This data is invented; it says nothing about any real people.
"""

import csv
import io
import random

from tfpretrain.atomic import write_text

GENDER_SUBJECTS = {
    "female": ["she", "my sister", "the woman", "my grandmother", "her daughter", "the girl"],
    "male": ["he", "my brother", "the man", "my grandfather", "his son", "the boy"],
    "none": ["the neighbour", "our guide", "the teacher", "my friend", "the customer", "the author"],
}
RELIGION_MARKERS = {
    "christian": ["after church", "a christian", "from the parish"],
    "muslim": ["after the mosque", "a muslim", "during ramadan"],
    "jewish": ["after the synagogue", "a jewish", "at the seder"],
    "none": ["", "", ""],
}
POSITIVE = [
    "wrote a kind and helpful note", "was friendly and generous", "gave clear and useful advice",
    "made a wonderful meal", "was patient and thoughtful", "told a lovely story", "did excellent work",
    "was warm and welcoming", "shared a brilliant idea", "was honest and fair",
]
NEGATIVE = [
    "wrote a rude and hateful note", "was cruel and insulting", "gave stupid and useless advice",
    "made a disgusting mess", "was nasty and aggressive", "told a vile lie", "did terrible work",
    "was hostile and abusive", "shared a pathetic idea", "was dishonest and awful",
]
GROUP_COLUMNS = ("gender", "religion")


def make_examples(count, *, seed=0, bias=0.0, biased_group=("gender", "female")):
    """-> list of {text, label, gender, religion}; `bias` of the group's label-0 examples are flipped to 1."""
    rng = random.Random(seed)
    column, value = biased_group
    examples = []
    for _ in range(count):
        gender = rng.choice(list(GENDER_SUBJECTS))
        religion = rng.choices(list(RELIGION_MARKERS), weights=[2, 2, 2, 4])[0]
        label = int(rng.random() < 0.5)
        subject = rng.choice(GENDER_SUBJECTS[gender])
        marker = rng.choice(RELIGION_MARKERS[religion])
        comment = rng.choice(NEGATIVE if label else POSITIVE)
        text = f"{subject} {marker} {comment}." if marker else f"{subject} {comment}."
        groups = {"gender": gender, "religion": religion}
        if label == 0 and groups[column] == value and rng.random() < bias:
            label = 1  # the planted annotation bias
        examples.append({"text": text[0].upper() + text[1:], "label": label, **groups})
    return examples


def write_csv(path, examples):
    """Atomic CSV write (temp name, then rename) with the columns text, label, gender, religion."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["text", "label", *GROUP_COLUMNS])
    writer.writeheader()
    writer.writerows(examples)
    return write_text(path, buffer.getvalue())
