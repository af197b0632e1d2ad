"""Training a VLM brain: prompts identical to the brain's, learnt tokens, the loop, fine-tuning and its data."""
import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from robot_brain.brain.prompting import PROMPT_FILE, TrainedPrompt, trained_prompt
from robot_brain.brain.vlm import VLMBrain
from robot_brain.frames import ImageFrame, ReplyDone, Turn
from robot_brain.pipeline import Pipeline
from robot_brain.samples import SAMPLE_SEED
from robot_brain.sim.world import COLUMNS, KINDS, ROWS, make_scene
from robot_brain.testing import run_stage
from robot_brain.training.attention_guide import AttentionGuide, target_token
from robot_brain.training.demo_vlm import SYSTEM_PROMPT, Shape, build, train_tokenizer
from robot_brain.training.vision_probe import (COLOUR_NAMES, LABELS, SPACED, WORDS, VisionProbe, hundredths,
                                                   patch_labels)
from robot_brain.training.vlm_data import IGNORE, Encoder, Example, collate, corpus, world_examples
from robot_brain.training.vlm_train import Settings, check, train

SMALL = Shape(image_edge=64, patch=8, scale_factor=2, vision_width=32, vision_layers=1, text_width=48,
              text_layers=2, vocab=400)


def test_world_examples_are_deterministic_with_at_most_the_trained_history():
    a = list(world_examples(range(20), per_scene=2, seed=3))
    b = list(world_examples(range(20), per_scene=2, seed=3))
    assert [(e.question, e.response, e.history, e.language) for e in a] == \
        [(e.question, e.response, e.history, e.language) for e in b]
    assert len(a) == 40 and all(len(e.history) <= 1 for e in a) and any(e.history for e in a)
    assert {e.language for e in a} == {"", "en"}
    assert all(json.loads(e.response).keys() == {"say", "intents"} for e in a)


def test_every_generated_reply_is_one_the_constrained_decoder_can_write():
    import xgrammar as xgr

    from robot_brain.brain.structured import JsonConstraint
    from robot_brain.intents.skills import load_skills, response_schema
    examples = list(world_examples(range(60), per_scene=4))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), 500)
    constraint = JsonConstraint(tokenizer, len(tokenizer), response_schema(load_skills()))
    for e in examples:
        matcher = xgr.GrammarMatcher(constraint.compiled)
        assert all(matcher.accept_token(t) for t in tokenizer(e.response, add_special_tokens=False).input_ids), \
            e.response


@pytest.mark.slow
@pytest.mark.parametrize("after", [False, True])
def test_training_prompts_are_exactly_what_the_brain_sends(tiny_vlm_dir, tmp_path, after):
    folder = tmp_path / "model"
    shutil.copytree(tiny_vlm_dir, folder)
    TrainedPrompt("You are a test robot.", 1, pictures_after_text=after).save(folder)
    brain = VLMBrain(folder, max_new_tokens=30)
    scene = make_scene(5)
    with Pipeline([brain]) as pipeline:
        pipeline.push(ImageFrame(image=scene.image, stamp=1.0))
        for number, (text, language) in enumerate([("what do you see", "en"), ("is anyone there", "")], start=1):
            pipeline.push(Turn(text=text, turn=number, language=language))
            assert pipeline.wait_idle(60)
        [remembered] = brain.memory.recent()                  # the trained history (1 turn), not the configured 4
        pipeline.push(Turn(text="how many cups", turn=3, language="en"))
        assert pipeline.wait_idle(60)
        encoder = Encoder(brain.processor, "You are a test robot.", pictures_after_text=after)
        example = Example(scene.image, "how many cups", "", ((remembered.user, remembered.reply),), "en")
        assert encoder.prompt(example) == brain.last_prompt
    question, picture = brain.last_prompt.rindex("how many cups"), brain.last_prompt.rindex("<image>")
    assert (question < picture) == after                           # where the model learnt to find the picture
    assert "Skills:" not in brain.last_prompt                      # the trained prompt replaced the configured one


def test_only_the_reply_and_its_end_are_learnt(tiny_vlm_dir):
    from robot_brain.brain.processors import load_processor
    processor = load_processor(tiny_vlm_dir)
    encoder = Encoder(processor, "You are a test robot.")
    example = next(world_examples([11], per_scene=1))
    encoded = encoder.encode(example)
    learnt = [t for t in encoded["labels"] if t != IGNORE]
    assert processor.tokenizer.decode(learnt[:-1]) == example.response
    assert learnt[-1] == processor.tokenizer.eos_token_id
    assert encoded["input_ids"][-len(learnt):] == learnt
    assert encoded["pixel_values"].shape[-2:] == (64, 64)
    batch = collate([encoded, encoder.encode(Example(example.image, "stop", '{"say": "Stopping.", "intents": []}'))],
                    processor.tokenizer.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["pixel_values"].shape[0] == 2
    with pytest.raises(ValueError, match="mixes"):
        collate([encoded, encoder.encode(Example(None, "stop", "{}"))], 0)


@pytest.mark.slow
def test_the_demo_architecture_learns_and_loads_in_the_brain(tmp_path):
    examples = list(world_examples(range(40), per_scene=2))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, processor = build(tokenizer, SMALL)
    assert SMALL.image_tokens == 16 and model.config.model_type == "idefics3"
    encoder = Encoder(processor, SYSTEM_PROMPT)
    trained = train(model, [encoder.encode(e) for e in examples], Settings(steps=60, batch_size=8, lr=3e-3, warmup=5),
                    tokenizer.pad_token_id, report_every=10)
    assert trained.steps == 60 and not trained.capped
    assert trained.losses[-1] < trained.losses[0] / 2
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    TrainedPrompt(SYSTEM_PROMPT, 1).save(tmp_path / "m")
    brain = VLMBrain(tmp_path / "m", max_new_tokens=60, quantisation="none")
    out = run_stage(brain, [ImageFrame(image=make_scene(3).image, stamp=1.0), Turn(text="stop", turn=1)])
    assert [f for f in out if isinstance(f, ReplyDone)]
    result = check(model, processor, examples[:4], SYSTEM_PROMPT)
    assert result["n"] == 4 and 0.0 <= result["exact"] <= 1.0 and result["by_ask"]


def test_patch_labels_mark_each_object_under_its_centre_and_nothing_else():
    scene = make_scene(SAMPLE_SEED)                   # blue cube, red cup, black cup, blue ball; a person
    labels = patch_labels(scene.objects, 16).reshape(16, 16, 5)
    truth = {o.name: (COLOUR_NAMES.index(o.colour) + 1, KINDS.index(o.kind) + 1, COLUMNS.index(o.column) + 1,
                      ROWS.index(o.row) + 1, 0) for o in scene.objects}
    for obj in scene.objects:
        row, column = int(obj.point[1] * 16), int(obj.point[0] * 16)
        assert tuple(labels[row, column]) == truth[obj.name]
    assert labels[:6].sum() == 0                      # the wall above the table: no object
    assert {tuple(v) for v in labels.reshape(-1, 5) if v.any()} == set(truth.values())
    assert patch_labels((), 8).shape == (64, 5) and not patch_labels((), 8).any()
    # On a 3 x 3 grid of image tokens each object of this scene lies in the token of its own place.
    tokens = patch_labels(scene.objects, 3).reshape(3, 3, 5)
    for obj in scene.objects:
        assert tuple(tokens[1 + ROWS.index(obj.row), COLUMNS.index(obj.column)]) == truth[obj.name]


def test_the_face_labels_only_its_own_token_with_its_x_in_hundredths():
    scene = make_scene(SAMPLE_SEED)
    face = scene.person.point
    tokens = patch_labels(scene.objects, 3, face).reshape(3, 3, 5)
    assert tokens[0, int(face[0] * 3)].tolist() == [0, 0, 0, 0, round(face[0] * 100) + 1]
    assert (tokens[..., 4] > 0).sum() == 1
    assert (tokens[..., :4] == patch_labels(scene.objects, 3).reshape(3, 3, 5)[..., :4]).all()
    # The class's word is what the reply writes after "0." for that x.
    assert WORDS["face_x"][hundredths(0.56)] == "56" and WORDS["face_x"][hundredths(0.5)] == "5"
    assert WORDS["face_x"][hundredths(0.07)] == "07" and hundredths(1.2) == 99


@pytest.mark.slow
@pytest.mark.parametrize("at, part, tied", [("encoder", "vision_model", False), ("tokens", "connector", False),
                                            ("tokens", "connector", True)])
def test_the_vision_probe_trains_its_part_and_the_opening_draws_only_its_examples(at, part, tied):
    examples = list(world_examples(range(30), per_scene=2, history_turns=0))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, processor = build(tokenizer, SMALL)
    encoder = Encoder(processor, SYSTEM_PROMPT)
    grid = SMALL.image_edge // SMALL.patch
    encoded = []
    for number, example in enumerate(examples):
        encoded.append({**encoder.encode(example), "patch_labels": patch_labels(example.tags["objects"], grid),
                        "token_labels": patch_labels(example.tags["objects"], grid // SMALL.scale_factor),
                        "number": number})
    probe = VisionProbe(model, at=at, tokenizer=tokenizer if tied else None)
    opening = [i for i, e in enumerate(examples) if e.tags["ask"] in ("where is", "point at")]
    drawn = []

    def probed(batch):
        drawn.append({e["number"] for e in batch})
        return probe.loss(batch)

    probed_part = getattr(model.model, part)
    before = [p.detach().clone() for p in probed_part.parameters()]
    trained = train(model, encoded, Settings(steps=30, batch_size=4, lr=3e-3, warmup=3), tokenizer.pad_token_id,
                    report_every=10, extra_loss=probed, extra_parameters=tuple(probe.parameters()),
                    opening=opening, opening_steps=10)
    probe.remove()
    assert all(batch <= set(opening) for batch in drawn[:10])
    assert any(batch - set(opening) for batch in drawn[10:])            # then every kind of question
    assert len(trained.extra_losses) == 3 and trained.extra_losses[-1] < trained.extra_losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, probed_part.parameters()))
    model(**collate(encoded[:2], tokenizer.pad_token_id))              # the hook is gone: nothing is kept
    assert probe._features is None
    assert not any("probe" in name for name in model.state_dict())    # the saved model is a plain Idefics3


def test_a_probe_names_what_it_can_learn_and_where():
    examples = list(world_examples(range(2), per_scene=1, history_turns=0))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, _ = build(tokenizer, SMALL)
    with pytest.raises(ValueError, match="colour"):
        VisionProbe(model, ("shade",))
    with pytest.raises(ValueError, match="tokens"):
        VisionProbe(model, at="decoder")
    with pytest.raises(ValueError, match="at='tokens'"):
        VisionProbe(model, at="encoder", tokenizer=tokenizer)


def test_word_tied_classes_are_the_words_that_name_them():
    examples = list(world_examples(range(40), per_scene=2, history_turns=0))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, _ = build(tokenizer, SMALL)
    probe = VisionProbe(model, at="tokens", tokenizer=tokenizer)
    embedding = model.get_input_embeddings().weight
    for label, head in probe.heads.items():
        name = list(LABELS)[label]
        for number, word in enumerate(WORDS[name]):
            pieces = tokenizer(" " * SPACED[name] + word, add_special_tokens=False).input_ids
            scores = head(embedding[pieces].mean(0)[None])[0]
            # class 0 is "no object"; a number this small tokenizer splits ("11": "1" "1") may tie with another
            assert scores[number + 1] >= scores.max() - 1e-4, (name, word)
            if len(pieces) == 1:
                assert int(scores.argmax()) == number + 1, (name, word)
    assert len(probe.parameters()) == 2 * len(LABELS)      # a "none" vector and a scale each; the words are the model's


def test_a_broken_prompt_file_is_named(tmp_path):
    (tmp_path / PROMPT_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=PROMPT_FILE):
        trained_prompt(tmp_path)
    (tmp_path / PROMPT_FILE).write_text('{"system_prompt": "x", "pictures_after_text": "yes"}')
    with pytest.raises(ValueError, match="not true or false"):
        trained_prompt(tmp_path)
    (tmp_path / PROMPT_FILE).write_text('{"system_prompt": "x", "history_turns": 2}')        # an older folder
    assert trained_prompt(tmp_path) == TrainedPrompt("x", 2, pictures_after_text=False)
    assert trained_prompt(tmp_path / "elsewhere") is None


# ---- fine-tuning on a robot's own data ------------------------------------------------------------

def _jsonl(tmp_path):
    scene = make_scene(21)
    cv2.imwrite(str(tmp_path / "table.png"), scene.image)
    obj = scene.objects[0]
    lines = [{"image": "table.png", "question": "where is my mug", "say": "Your mug is by the window.",
              "intents": []},
             {"image": "table.png", "question": "point at my mug", "answer": "There it is.",
              "intents": [{"verb": "point_at", "target": "mug", "point": [round(obj.point[0], 2),
                                                                           round(obj.point[1], 2)]}]}]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


def test_jsonl_examples_and_their_errors(tmp_path):
    from robot_brain.training.records import RecordError, read_jsonl
    examples = read_jsonl(_jsonl(tmp_path))
    assert [e.question for e in examples] == ["where is my mug", "point at my mug"]
    assert json.loads(examples[1].response)["say"] == "There it is."
    assert json.loads(examples[1].response)["intents"][0]["verb"] == "point_at"
    assert examples[0].image.shape == (240, 320, 3)
    bad = tmp_path / "bad.jsonl"
    for text, message in [('{"question": "hi"}\n', "needs \"say\""), ("\n{oops\n", "bad.jsonl:2: not JSON"),
                          ('{"question": "hi", "say": "x", "image": "none.png"}', "cannot read the picture"),
                          ('{"question": "hi", "say": "x", "intents": [{"target": "cup"}]}', "\"verb\""), ("", "no examples")]:
        bad.write_text(text)
        with pytest.raises(RecordError, match=message):
            read_jsonl(bad)


@pytest.mark.slow
def test_a_full_fine_tune_learns_the_users_answers_and_registers(tiny_vlm_dir, tmp_path):
    from robot_brain.brain.registry import registry_path, resolve_model
    from robot_brain.training.finetune import FinetuneError, Plan, finetune, register
    from robot_brain.training.records import read_jsonl
    examples = read_jsonl(_jsonl(tmp_path))
    out = tmp_path / "tuned"
    result = finetune(str(tiny_vlm_dir), examples, out, Plan("auto", settings=Settings(
        steps=200, batch_size=2, lr=3e-3, warmup=5)), held_out=examples)
    assert result["method"] == "full" and result["training"]["steps"] == 200
    losses = result["training"]["losses"]
    assert losses[-1] < losses[0] / 20                              # it learnt the user's replies
    assert result["held_out_check"]["n"] == 2 and result["held_out_check"]["exact"] >= 0.5
    assert trained_prompt(out) is not None and (out / "finetune.json").is_file()
    brain = VLMBrain(out, max_new_tokens=80, quantisation="none")
    replies = run_stage(brain, [ImageFrame(image=examples[0].image, stamp=1.0), Turn(text="point at my mug", turn=1)])
    assert [f.text for f in replies if isinstance(f, ReplyDone)][0] in ("Your mug is by the window.", "There it is.")
    registry = tmp_path / "registry.yaml"
    shutil.copy(registry_path(), registry)
    register("my-brain", out, "demo-tabletop", registry)
    assert "# Model profiles" in registry.read_text()              # the file's comments are kept
    assert resolve_model("my-brain", registry) == out.resolve()
    with pytest.raises(FinetuneError, match="already has"):
        register("my-brain", out, "demo-tabletop", registry)
    with pytest.raises(FinetuneError, match="not empty"):
        finetune(str(tiny_vlm_dir), examples, out, Plan("full"))


@pytest.mark.slow
def test_a_lora_fine_tune_changes_only_the_language_model(tiny_vlm_dir, tmp_path):
    pytest.importorskip("peft")
    from safetensors.numpy import load_file

    from robot_brain.training.finetune import Plan, finetune
    from robot_brain.training.records import read_jsonl
    result = finetune(str(tiny_vlm_dir), read_jsonl(_jsonl(tmp_path)), tmp_path / "lora",
                      Plan("lora", lora_rank=4, settings=Settings(steps=20, batch_size=2, lr=1e-2, warmup=2)))
    assert result["method"] == "lora" and result["lora_rank"] == 4
    assert result["training"]["losses"][-1] < result["training"]["losses"][0]
    before = load_file(str(tiny_vlm_dir / "model.safetensors"))
    after = load_file(str(tmp_path / "lora" / "model.safetensors"))
    assert before.keys() == after.keys()                            # adapters merged: a plain model folder
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed and all("text_model" in k and "proj" in k for k in changed), sorted(changed)[:5]


def test_a_recorded_session_becomes_examples(tmp_path):
    from robot_brain.bags import COMPRESSED_IMAGE, STRING, BagWriter, header
    from robot_brain.training.records import RecordError, export_jsonl, from_recording, read_jsonl
    scene = make_scene(4)
    bag = tmp_path / "session"
    with BagWriter(bag, "mcap") as w:
        for topic, kind in [("/camera/image_raw/compressed", COMPRESSED_IMAGE), ("/robot_brain/transcript", STRING),
                            ("/robot_brain/reply", STRING), ("/robot_brain/intents", STRING),
                            ("/robot_brain/text_in", STRING)]:
            w.add(topic, kind)
        jpg = cv2.imencode(".png", scene.image)[1].reshape(-1)
        w.write("/camera/image_raw/compressed", 0.5, w.types[COMPRESSED_IMAGE](
            header=header(w.store, 0.5, "camera"), format="png", data=jpg))
        said = [(1.0, "/robot_brain/transcript", "point at the red cup"), (1.5, "/robot_brain/reply", "Pointing."),
                (1.6, "/robot_brain/reply", "There."),
                (1.7, "/robot_brain/intents", json.dumps({"intent": "point_at", "data": {"target": {
                    "label": "red cup", "point_norm": [0.2234, 0.5]}}})),
                (3.0, "/robot_brain/transcript", "stop"), (3.1, "/robot_brain/intents", '{"intent": "stop"}'),
                (4.0, "/robot_brain/text_in", "what do you see"), (4.5, "/robot_brain/reply", "A table."),
                (6.0, "/robot_brain/transcript", "unanswered")]
        for stamp, topic, text in said:
            w.write(topic, stamp, w.types[STRING](data=text))
    examples = from_recording(bag)
    assert [e.question for e in examples] == ["point at the red cup", "what do you see"]
    assert json.loads(examples[0].response) == {"say": "Pointing. There.", "intents": [
        {"verb": "point_at", "target": "red cup", "point": [0.22, 0.5]}]}
    assert examples[0].image.shape == (240, 320, 3)
    exported = read_jsonl(export_jsonl(examples, tmp_path / "review" / "data.jsonl"))
    assert [(e.question, e.response) for e in exported] == [(e.question, e.response) for e in examples]
    with BagWriter(tmp_path / "empty", "mcap") as w:
        w.add("/robot_brain/reply", STRING)
    with pytest.raises(RecordError, match="no answered questions"):
        from_recording(tmp_path / "empty")


def test_the_guided_token_is_the_one_showing_what_the_question_names():
    scene = make_scene(SAMPLE_SEED)                   # blue cube, red cup, black cup, blue ball; a person
    red_cup = scene.find("red", "cup")[0]
    assert (red_cup.column, red_cup.row) == ("left", "front")
    assert target_token("where is", "where is the red cup", scene.objects, None, 3) == 2 * 3 + 0
    assert target_token("pick up", "pick up the blue ball", scene.objects, None, 3) == 1 * 3 + 2
    assert target_token("point at", "point at the green box", scene.objects, None, 3) == -1      # not there
    assert target_token("look at me", "look at me", scene.objects, (0.55, 0.2), 3) == 1
    assert target_token("look at me", "look at me", scene.objects, None, 3) == -1
    assert target_token("how many", "how many cups", scene.objects, None, 3) == -1


def test_the_matching_tokens_of_a_count_are_every_object_of_its_kind():
    from robot_brain.training.match_probe import matching_tokens
    scene = make_scene(SAMPLE_SEED)                   # blue cube, red cup, black cup, blue ball
    assert [(o.column, o.row) for o in scene.find(None, "cup")] == [("left", "front"), ("centre", "back")]
    assert matching_tokens("how many", "how many cups", scene.objects, None, 3) == [1 * 3 + 1, 2 * 3 + 0]
    assert matching_tokens("how many", "how many boxes", scene.objects, None, 3) == []
    assert matching_tokens("where is", "where is the red cup", scene.objects, None, 3) == [2 * 3 + 0]
    assert matching_tokens("look at me", "look at me", scene.objects, None, 3) == []
    assert matching_tokens("what do you see", "what do you see", scene.objects, (0.5, 0.2), 3) == []


@pytest.mark.slow
def test_the_attention_guide_turns_a_head_to_the_named_object():
    examples = list(world_examples(range(40), per_scene=2, history_turns=0))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, processor = build(tokenizer, SMALL)
    model.set_attn_implementation("eager")
    encoder = Encoder(processor, SYSTEM_PROMPT)
    grid = SMALL.image_edge // SMALL.patch // SMALL.scale_factor
    encoded = [{**encoder.encode(e), "target_token": target_token(e.tags["ask"], e.question, e.tags["objects"],
                                                                  e.tags["person"], grid)} for e in examples]
    assert any(e["target_token"] >= 0 for e in encoded) and any(e["target_token"] < 0 for e in encoded)
    guide = AttentionGuide(model, layer=1)
    guided = [e for e in encoded if e["target_token"] >= 0][:8]

    def guide_loss() -> float:
        with torch.no_grad():
            model(**collate(guided, tokenizer.pad_token_id))
            return float(guide.loss(guided))

    before = guide_loss()
    trained = train(model, encoded, Settings(steps=40, batch_size=8, lr=3e-3, warmup=4), tokenizer.pad_token_id,
                    report_every=10, extra_loss=guide.loss)
    after = guide_loss()
    guide.remove()
    assert after < before / 2 and trained.extra_losses[-1] < trained.extra_losses[0]
    with pytest.raises(ValueError, match="layers 0..1"):
        AttentionGuide(model, layer=2)


@pytest.mark.slow
def test_the_match_probe_scores_only_questions_that_name_something_and_trains_the_layers_below_it():
    from robot_brain.training.match_probe import MatchProbe, matching_tokens
    examples = list(world_examples(range(30), per_scene=2, history_turns=0))
    tokenizer = train_tokenizer(corpus(SYSTEM_PROMPT, examples), SMALL.vocab)
    model, processor = build(tokenizer, SMALL)
    encoder = Encoder(processor, SYSTEM_PROMPT, pictures_after_text=True)
    grid = SMALL.image_edge // SMALL.patch // SMALL.scale_factor
    encoded = [{**encoder.encode(e), "ask": e.tags["ask"],
                "match_tokens": matching_tokens(e.tags["ask"], e.question, e.tags["objects"], e.tags["person"], grid)}
               for e in examples]
    keys = set(model.state_dict())
    probe = MatchProbe(model, layer=0)
    unnamed = [e for e in encoded if e["ask"] in ("what do you see", "stop")][:4]
    model(**collate(unnamed, tokenizer.pad_token_id))
    assert probe.loss(unnamed).item() == 0.0                                   # nothing named: nothing scored
    counted = [e for e in encoded if e["ask"] == "how many"][:4]
    model(**collate(counted, tokenizer.pad_token_id))
    assert probe.loss(counted).item() > 0.0
    named = [e for e in encoded if e["ask"] in ("where is", "point at", "pick up", "how many")][:6]
    assert any(e["match_tokens"] for e in named)
    model.zero_grad()
    model(**collate(named, tokenizer.pad_token_id))
    probe.loss(named).backward()
    layers = model.model.text_model.layers
    assert layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0             # the matching is learnt below it
    assert layers[1].self_attn.q_proj.weight.grad is None or not layers[1].self_attn.q_proj.weight.grad.any()
    model.zero_grad()
    trained = train(model, encoded, Settings(steps=30, batch_size=8, lr=3e-3, warmup=3), tokenizer.pad_token_id,
                    report_every=10, extra_loss=probe.loss, extra_parameters=tuple(probe.parameters()))
    probe.remove()
    assert trained.extra_losses[-1] < trained.extra_losses[0]
    assert set(model.state_dict()) == keys                                     # the saved model is a plain Idefics3
    with pytest.raises(ValueError, match="layers 0..1"):
        MatchProbe(model, layer=2)
