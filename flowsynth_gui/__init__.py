"""FlowSynth: a synthesizer made explorable by ear (Esling et al., normalizing flows)."""

__version__ = "0.1.0"
