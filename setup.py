"""tfpretrain: pretrain, fine-tune and responsibly evaluate BERT / GPT-2 in tf-keras on TPU, GPU or CPU."""
from setuptools import find_packages, setup

# The core stack. TF 2.20 is allowed too: tensorflow-tpu stops at 2.20 and the core must run there.
CORE = [
    "tensorflow>=2.20,<2.22",
    "tf-keras>=2.20,<2.22",
    "transformers==4.57.6",  # last line with TF models: tokenizers, checkpoint interop, parity oracle
    "tokenizers>=0.22,<=0.23.0",
    "safetensors>=0.4",
    "pyyaml>=6",
    "numpy>=1.26",
    # TensorFlow allows ml_dtypes <1.0, but 0.7.0's extension module takes 1.3 s of CPU to import (0.6.0: 0.05 s),
    # paid by every process that imports TensorFlow: each CLI command, each test subprocess (measured 2026-12-03).
    "ml_dtypes>=0.5.1,<0.7",
    # Corpus preparation and TFMA evaluation both run on Beam; TFDS is a corpus and fine-tuning source.
    "apache-beam>=2.60,<3",
    "tensorflow-datasets>=4.9",
    "tensorboard>=2.20",  # TF 2.21 no longer depends on it; the trainer writes scalars for it
    # DP-SGD accounting (tensorflow-privacy fails to import on TF 2.21; the mechanism is ours, the RDP/PLD
    # accountants are Google's) and energy/CO2 of training runs (codecarbon's offline tracker, no network).
    "dp-accounting>=0.4",
    "codecarbon>=2.8",
    # The HTML report, the report sections and the model card are Jinja2 templates; markdown-it turns the Markdown
    # model card into its HTML twin.
    "jinja2>=3.1",
    "markdown-it-py>=3",
    # PII scrubbing in `prepare`: Google's libphonenumber for phone numbers in every country's formats,
    # python-stdnum's checks for IBANs (ISO 13616) and national ID numbers, Babel's CLDR month names for written
    # birth dates.
    "phonenumbers>=8.13",
    "python-stdnum>=1.19",
    "babel>=2.12",
    # Near-duplicate removal in `prepare`: MinHash signatures and the LSH band/row choice (data/minhash.py).
    "datasketch>=1.6,<3",
    # Language identification in `prepare`'s quality filters; the model ships inside the wheel (no download).
    "py3langid>=0.4,<0.5",  # 0.4 changed the model-loading API and calibrated the scores
]

EXTRAS = {
    # TPU VMs: tensorflow-tpu has no 2.21 release, so the TPU extra pins the whole TF line to 2.20.
    "tpu": ["tensorflow-tpu==2.20.0", "tf-keras==2.20.1", "libtpu"],
    # fairness-indicators 0.52.0 is NOT listed here: its tensorflow-data-validation pin has no Linux wheel, and
    # it imports nothing from it, so the Makefile installs it separately with --no-deps after this extra.
    # statsmodels: Wilson score intervals of the fairness rates (evaluation/fairness/intervals.py).
    "eval": ["tensorflow-model-analysis>=0.52,<0.53", "statsmodels>=0.14.4"],
    # nbclient + ipykernel execute the notebooks in tests (tests/test_notebooks.py); playwright drives the system
    # Chromium in the report's browser tests (never `playwright install`: .ci/run installs chromium).
    "dev": ["pytest>=8", "pytest-timeout", "hypothesis>=6", "ruff>=0.6", "pytest-xdist>=3",
            "nbformat>=5", "nbclient>=0.10", "ipykernel>=6", "playwright>=1.45"],
}

setup(
    name="tfpretrain",
    version="0.1.0",
    description=__doc__,
    python_requires=">=3.11,<3.12",
    packages=find_packages(include=["tfpretrain", "tfpretrain.*"]),
    package_data={"tfpretrain": ["py.typed", "reporting/report/assets/*", "reporting/*/templates/*", "data/templates/*",
                                 "evaluation/probes/samples/*"]},
    install_requires=CORE,
    extras_require=EXTRAS,
    entry_points={"console_scripts": ["tfpretrain=tfpretrain.cli:main"]},
)
