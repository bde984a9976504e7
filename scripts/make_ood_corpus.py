"""Render the out-of-domain test corpus: sounds FlowSynth's synth did not make.

Acoustic and sampled instruments (FluidSynth with the General MIDI soundfont FluidR3), voices
(espeak-ng) and another synthesizer (SoX's synth). Needs Debian's fluidsynth,
fluid-soundfont-gm, espeak-ng and sox (installed when missing and run as root).

Run: .venv/bin/python scripts/make_ood_corpus.py OUT_DIR
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import mido

PACKAGES = ("fluidsynth", "fluid-soundfont-gm", "espeak-ng", "sox")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SR = 22050
# General MIDI programs (0-based) and the notes they play.
INSTRUMENTS = {"piano": (0, (48, 60, 72)), "organ": (19, (48, 60)), "strings": (48, (48, 60)),
               "trumpet": (56, (60, 67)), "flute": (73, (67, 79)), "clarinet": (71, (55, 62)),
               "guitar": (24, (48, 60)), "bass": (33, (36, 43)), "choir": (52, (55, 60)),
               "saxophone": (65, (55, 62)), "vibraphone": (11, (60, 72)), "cello": (42, (40, 48))}
VOICES = {"aah_low": ("en+m3", 20, "aaaaaaaaah"), "aah_high": ("en+f3", 70, "aaaaaaaaah"),
          "ooh": ("en+m1", 40, "oooooooooooh"), "eee": ("en+f2", 60, "eeeeeeeeee"),
          "hum": ("en+m2", 30, "mmmmmmmmmmm")}
SOX_SYNTHS = {
    "sox_pluck_c3": "synth 3 pluck C3 fade 0 4 1",
    "sox_square_tremolo": "synth 3 square 220 tremolo 6 60 fade 0.01 3 0.3",
    "sox_sine_pair": "synth 3 sine 330 sine 495 remix 1,2 fade 0.2 3 0.5",
    "sox_saw_sweep": "synth 3 sawtooth 110-440 lowpass 2000 fade 0.01 3 0.3",
    "sox_noise_band": "synth 3 pinknoise bandpass 1000 200h fade 0.3 3 0.5",
    "sox_trapezium": "synth 3 trapezium 146.8 fade 0.05 3 0.3",
}


def ensure_tools() -> None:
    missing = [p for p in PACKAGES
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True,
                       env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/bin"})


def midi_note_file(path: Path, program: int, note: int) -> None:
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))  # 120 BPM: 960 ticks a second
    track.append(mido.Message("program_change", program=program, time=0))
    track.append(mido.Message("note_on", note=note, velocity=100, time=0))
    track.append(mido.Message("note_off", note=note, velocity=0, time=3 * 960))
    track.append(mido.MetaMessage("end_of_track", time=960))
    song.tracks.append(track)
    song.save(path)


def render_instruments(out: Path, work: Path) -> None:
    for name, (program, notes) in INSTRUMENTS.items():
        for note in notes:
            midi = work / f"{name}_{note}.mid"
            midi_note_file(midi, program, note)
            subprocess.run(["fluidsynth", "-ni", "-g", "0.8", "-r", str(SR), "-F",
                            str(out / f"gm_{name}_{note}.wav"), str(SOUNDFONT), str(midi)],
                           check=True, capture_output=True)


def render_voices(out: Path) -> None:
    for name, (voice, pitch, text) in VOICES.items():
        subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "60", "-w",
                        str(out / f"voice_{name}.wav"), text], check=True, capture_output=True)


def render_sox(out: Path) -> None:
    for name, effect in SOX_SYNTHS.items():
        subprocess.run(["sox", "-n", "-r", str(SR), "-c", "1", str(out / f"{name}.wav"),
                        *effect.split()], check=True, capture_output=True)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    ensure_tools()
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    try:
        render_instruments(out, work)
        render_voices(out)
        render_sox(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{len(list(out.glob('*.wav')))} files in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
