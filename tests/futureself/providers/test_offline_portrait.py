import asyncio
import io

from PIL import Image

from futureself.providers import registry
from futureself.providers.offline.portrait import GREY_HAIR, OfflinePortraits, features_for, mood_of
from personas.schemas import CardData
from tests.builders import sample_card

# A point inside the hair for every hair style (top of the head, above the parting).
HAIR_POINT = (256, 112)


async def portrait(**overrides) -> Image.Image:
    result = await OfflinePortraits().generate("A portrait", context=sample_card(**overrides))
    return Image.open(io.BytesIO(result.data))


def distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return sum(abs(x - y) for x, y in zip(a[:3], b[:3], strict=True))


async def test_it_draws_a_512px_png_from_a_card():
    card = sample_card()
    CardData.model_validate(card)  # the context really is card-shaped

    result = await OfflinePortraits().generate(card["avatar_prompt"], context=card)

    assert result.content_type == "image/png"
    assert result.model == "offline-portrait"
    image = Image.open(io.BytesIO(result.data))
    image.verify()
    assert image.format == "PNG"
    assert image.size == (512, 512)


async def test_the_same_card_always_gives_the_same_picture():
    first = await OfflinePortraits().generate("A portrait", context=sample_card())
    second = await OfflinePortraits().generate("A portrait", context=sample_card())

    assert first.data == second.data


async def test_different_selves_get_different_pictures():
    montreal = await OfflinePortraits().generate("x", context=sample_card("Move to Montreal"))
    lyon = await OfflinePortraits().generate("x", context=sample_card("Stay in Lyon"))

    assert montreal.data != lyon.data


async def test_hair_greys_with_age():
    young = (await portrait(age=28)).convert("RGB").getpixel(HAIR_POINT)
    old = (await portrait(age=78)).convert("RGB").getpixel(HAIR_POINT)

    assert distance(old, GREY_HAIR) < 20
    assert distance(young, GREY_HAIR) > 150


async def test_the_mood_of_the_card_changes_the_picture():
    warm = await portrait(personality="warm, playful and hopeful", tagline="I am grateful every day.")
    heavy = await portrait(personality="tired, guarded and wistful", tagline="I carry some regret.")

    assert warm.tobytes() != heavy.tobytes()
    assert mood_of(sample_card(personality="warm, playful and hopeful")) > 0
    assert mood_of(sample_card(personality="tired, guarded and wistful", tagline="Some regret.")) < 0


async def test_a_warm_self_gets_a_warmer_background_than_a_heavy_one():
    # Same path and title, so only the mood moves the palette.
    warm = features_for(sample_card(personality="joyful, warm, content", tagline="Happy."))
    heavy = features_for(sample_card(personality="lonely, bitter, weary", tagline="Sad."))

    def warmth(color: tuple[int, int, int]) -> int:
        return color[0] - color[2]

    assert warmth(warm.background_top) > warmth(heavy.background_top)


async def test_the_unexpected_path_gets_a_distinct_accent():
    usual = await portrait(path="Sail around the world", unexpected=False)
    unexpected = await portrait(path="Sail around the world", unexpected=True)

    assert features_for(sample_card(unexpected=False)).accent is None
    accent = features_for(sample_card(path="Sail around the world", unexpected=True)).accent
    assert accent is not None
    assert usual.tobytes() != unexpected.tobytes()
    # The accent ring shows up in the picture: some pixel is close to its colour.
    colors = {color for _, color in unexpected.convert("RGB").getcolors(512 * 512)}
    assert min(distance(color, accent) for color in colors) < 30


async def test_a_portrait_without_a_card_still_renders():
    result = await OfflinePortraits().generate("Someone calm", context=None)

    assert Image.open(io.BytesIO(result.data)).size == (512, 512)


async def test_drawing_happens_off_the_event_loop():
    ticks = 0
    done = asyncio.Event()

    async def heartbeat():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    beating = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)
    before = ticks
    await OfflinePortraits().generate("x", context=sample_card())
    during = ticks - before
    done.set()
    await beating

    assert during >= 5  # the loop kept running while the portrait was drawn


def test_the_offline_registry_serves_these_portraits():
    assert registry.configured_name("image") == "offline"
    assert isinstance(registry.build("image", "offline"), OfflinePortraits)
