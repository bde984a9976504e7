"""Evaluating trained models: the paper's Table 1 on FlowSynth's synth, with references."""
