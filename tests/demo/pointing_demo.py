"""`robot-brain demo` with a stand-in brain at the seam that answers every turn by pointing at the red cup.

The window test runs this instead of the CLI so that the view has a known target to draw; everything else
(camera, typed input, safety gate, speech, window, keys) is the real demo.
"""
import sys

from scenes import RED_CUP

from robot_brain import cli
from robot_brain.demo import session
from robot_brain.frames import ImageFrame, IntentProposal, ReplyDone, ReplySentence, Turn
from robot_brain.pipeline import Stage

ANSWER = "The red cup is on the left. I am pointing at it."


class PointingBrain(Stage):
    accepts = (Turn, ImageFrame)

    def __init__(self):
        super().__init__("brain")
        self.size = None

    def process(self, frame):
        if isinstance(frame, ImageFrame):
            self.size = (frame.image.shape[1], frame.image.shape[0])
            return
        yield frame                      # the safety gate authorises proposals by the turn they answer
        self.ctx.mark(frame.turn, "first_token")        # as the real brain does
        self.ctx.mark(frame.turn, "first_sentence")
        for index, sentence in enumerate(ANSWER.split(". ")):
            yield ReplySentence(text=sentence.rstrip(".") + ".", index=index, turn=frame.turn)
        yield IntentProposal(verb="point_at", target="red cup", point=list(RED_CUP), confidence=0.9,
                             source=frame.source, image_size=self.size, turn=frame.turn)
        yield ReplyDone(text=ANSWER, turn=frame.turn)


_real_init = session.Demo.__init__


def _with_pointing_brain(self, config, options, **kwargs):
    _real_init(self, config, options, swap={"brain": PointingBrain()}, **kwargs)


if __name__ == "__main__":
    session.Demo.__init__ = _with_pointing_brain
    sys.exit(cli.main(sys.argv[1:]))
