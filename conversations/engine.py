"""The conversation with a future self, and its debrief.

``ConversationEngine`` turns the person's message into a streamed reply:

    user = await engine.add_user_message(conversation_id, text)   # saved before any provider call
    reply = await engine.start_reply(conversation_id, started_at=t0)
    # A live connection passes the ``ConversationState`` it keeps (``state=``) to both, so
    # the message is one insert and the prompt is built without reading the conversation back.
    async for event in reply.events():                            # ReplyStart, ReplyDelta..., ReplyEnd
        ...

The caller runs ``events()`` inside one asyncio task. Cancelling that task
stops the provider stream at once; ``await reply.interrupt()`` then saves what
was generated so far as an interrupted reply and returns its ``ReplyEnd``. A
voice pipeline uses ``reply.stream()`` (start and deltas only) and calls
``reply.finish(extra_timings=...)`` itself once the audio is out.

``reply.begin()`` sends the request before anyone reads the reply: what the model
writes is held until ``stream()`` reads it, or dropped by ``reply.discard()``. A live
connection begins the reply once the person's words are saved, while they are still
being screened, and reads it only after the verdict (see ``conversations/voice.py``).

Memory: the prompt holds the persona, the rolling summary of older turns and
the recent turns verbatim. ``fold_memory()`` (run after a reply has been sent,
off the hot path) folds turns that left the verbatim window into the summary,
so the prompt size plateaus however long the conversation runs.
``Conversation.summarized_through`` counts positions: the messages with a
position below it are in ``rolling_summary``; the rest are read verbatim.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from conversations import services
from conversations.models import Conversation, Message
from conversations.schemas import DebriefData
from futureself.prompts import as_data, render_prompt
from futureself.providers.base import ChatMessage, ChatProvider, ChatRequest, ProviderUnavailable, Usage

# --- events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyStart:
    message_id: uuid.UUID
    type: str = "reply.start"


@dataclass(frozen=True, slots=True)
class ReplyDelta:
    text: str
    type: str = "reply.delta"


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    message_id: uuid.UUID
    text: str
    interrupted: bool
    timings: dict[str, Any]
    type: str = "reply.end"


ReplyEvent = ReplyStart | ReplyDelta | ReplyEnd


def _ms(start: float, end: float) -> int:
    return round((end - start) * 1000)


# --- what the engine reads --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    position: int
    role: str
    text: str
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class ConversationState:
    conversation_id: uuid.UUID
    status: str
    card: dict[str, Any]
    years_ahead: int
    profile: dict[str, Any]
    rolling_summary: str
    summarized_through: int
    turns: tuple[Turn, ...] = field(default_factory=tuple)
    # The next free message position and the role of the message before it (safety-flagged ones
    # included, which never appear in ``turns``): what a live connection needs to write the next
    # message in one insert.
    next_position: int = 0
    last_role: str | None = None

    @property
    def replies_so_far(self) -> int:
        return sum(1 for t in self.turns if t.role == Message.Role.FUTURE_SELF) + self.summarized_through // 2

    @property
    def awaiting_reply(self) -> bool:
        """Whether the last message is the person's and still has no reply (a flagged one has its answer)."""
        return (
            bool(self.turns)
            and self.turns[-1].role == Message.Role.USER
            and self.turns[-1].position == (self.next_position - 1)
        )

    @property
    def position_for_user_message(self) -> int | None:
        """Where the person's next message goes without a lock, or None when the last message is
        theirs (a retry of it must be recognised, which needs the locked path)."""
        return None if self.last_role == Message.Role.USER else self.next_position

    def with_message(self, message: Message, *, in_prompt: bool = True) -> ConversationState:
        """The state once ``message`` is saved (a safety-flagged one stays out of the prompt)."""
        turns = self.turns
        if in_prompt:
            turns = (*turns, Turn(message.position, message.role, message.text, message.interrupted))
        return replace(
            self,
            turns=turns,
            next_position=max(self.next_position, message.position + 1),
            last_role=message.role,
        )

    def folded(self, fold: Fold) -> ConversationState:
        """The state once ``fold`` is stored: the folded turns leave the verbatim list."""
        return replace(
            self,
            rolling_summary=fold.summary,
            summarized_through=fold.through,
            turns=tuple(t for t in self.turns if t.position >= fold.through),
        )


@dataclass(frozen=True, slots=True)
class Fold:
    """A new rolling summary covering every message below position ``through``."""

    summary: str
    through: int


def _profile_for_prompt(data: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "name", "age", "pronouns", "location", "occupation", "life_situation", "values", "goals", "fears",
        "strengths", "challenges", "relationships", "turning_points", "communication_style", "dilemma", "boundaries",
    )  # fmt: skip
    return {key: data[key] for key in keep if data.get(key)}


def load_state(conversation_id) -> ConversationState:
    """The conversation as the engine needs it: persona, summary and the turns not yet summarised (sync)."""
    return state_of(Conversation.objects.select_related("future_self__profile").get(pk=conversation_id))


def state_of(conversation: Conversation) -> ConversationState:
    """``load_state`` for a conversation already read with its future self and profile (sync)."""
    future_self = conversation.future_self
    messages = list(
        conversation.messages.filter(position__gte=conversation.summarized_through)
        .order_by("position")
        .only("position", "role", "text", "interrupted", "safety_flagged")
    )
    last = messages[-1] if messages else conversation.messages.order_by("-position").only("position", "role").first()
    turns = tuple(Turn(m.position, m.role, m.text, m.interrupted) for m in messages if not m.safety_flagged)
    return ConversationState(
        conversation_id=conversation.pk,
        status=conversation.status,
        card=dict(future_self.card),
        years_ahead=future_self.years_ahead,
        profile=_profile_for_prompt(future_self.profile.data),
        rolling_summary=conversation.rolling_summary,
        summarized_through=conversation.summarized_through,
        turns=turns,
        next_position=0 if last is None else last.position + 1,
        last_role=None if last is None else last.role,
    )


def pending_user_message(conversation_id) -> Message | None:
    """The last message when it is the person's and still has no reply (sync)."""
    last = Message.objects.filter(conversation_id=conversation_id).order_by("-position").first()
    if last is None or last.role != Message.Role.USER or last.safety_flagged:
        return None
    return last


# --- the engine -------------------------------------------------------------------


class ConversationEngine:
    """Streams a future self's replies, remembering long conversations within a fixed budget."""

    MIN_SENTENCES = 2
    MAX_SENTENCES = 4

    def __init__(
        self,
        *,
        chat: ChatProvider,
        window_messages: int = 12,
        window_chars: int = 12_000,
        fold_batch: int = 6,
        summary_max_chars: int = 2_000,
        first_token_timeout: float | None = None,
        total_timeout: float | None = None,
    ) -> None:
        self.chat = chat
        self.window_messages = window_messages
        self.window_chars = window_chars
        self.fold_batch = fold_batch
        self.summary_max_chars = summary_max_chars
        timeouts = settings.PROVIDER_TIMEOUTS
        self.first_token_timeout = first_token_timeout or timeouts["first_token"]
        self.total_timeout = total_timeout or timeouts["stream_total"]

    # -- turns --

    async def load_state(self, conversation_id) -> ConversationState:
        return await database_sync_to_async(load_state)(conversation_id)

    async def add_user_message(
        self,
        conversation_id,
        text: str,
        *,
        input_mode: str = Message.InputMode.TEXT,
        audio_duration_ms=None,
        state: ConversationState | None = None,
    ) -> Message:
        """Save the person's message. With the caller's ``state`` (kept by a live connection) it is
        one insert; a conversation written to meanwhile falls back to the locked path."""
        return await services.amessage_add_user(
            conversation_id=conversation_id,
            text=text,
            input_mode=input_mode,
            audio_duration_ms=audio_duration_ms,
            position=state.position_for_user_message if state is not None else None,
        )

    async def pending_user_message(self, conversation_id) -> Message | None:
        return await database_sync_to_async(pending_user_message)(conversation_id)

    async def start_reply(
        self, conversation_id, *, started_at: float | None = None, state: ConversationState | None = None
    ) -> Reply:
        """Prepare the reply to the conversation as it stands (the person's message already saved).

        ``state`` is the conversation as the caller already holds it; without it, it is read.
        """
        if state is None:
            state = await self.load_state(conversation_id)
        request = self.build_request(state)
        return Reply(
            self, conversation_id, request, started_at=started_at or time.perf_counter(), position=state.next_position
        )

    # -- prompt --

    def verbatim_window(self, turns: Sequence[Turn]) -> list[Turn]:
        """The most recent turns kept word for word: a count and a character budget, newest always kept."""
        window = list(turns[-self.window_messages :])
        while len(window) > 1 and sum(len(t.text) for t in window) > self.window_chars:
            window.pop(0)
        return window

    def build_request(self, state: ConversationState) -> ChatRequest:
        # Turns that left the window but are not folded yet stay visible (up to one fold batch),
        # so nothing is forgotten while the summary catches up off the hot path.
        visible = list(state.turns[-(self.window_messages + self.fold_batch) :])
        while len(visible) > 1 and sum(len(t.text) for t in visible) > self.window_chars * 1.5:
            visible.pop(0)
        system = render_prompt(
            "conversation.md",
            years_ahead=state.years_ahead,
            min_sentences=self.MIN_SENTENCES,
            max_sentences=self.MAX_SENTENCES,
        )
        context_block = render_prompt(
            "conversation_context.md",
            card=as_data("card", _card_for_prompt(state.card)),
            profile=as_data("profile", state.profile),
            summary=as_data("earlier_conversation", state.rolling_summary) if state.rolling_summary else "",
        )
        messages: list[ChatMessage] = [ChatMessage("system", system), ChatMessage("user", context_block)]
        for turn in visible:
            if not turn.text:
                continue
            if turn.role == Message.Role.USER:
                messages.append(ChatMessage("user", as_data("person", turn.text)))
            else:
                messages.append(ChatMessage("assistant", turn.text + ("…" if turn.interrupted else "")))
        latest = next((t.text for t in reversed(visible) if t.role == Message.Role.USER), "")
        context = {
            "card": state.card,
            "profile": {
                "name": state.profile.get("name"),
                "dilemma": state.profile.get("dilemma", {}),
                "boundaries": [b.get("text", "") for b in state.profile.get("boundaries", [])],
            },
            "latest": latest,
            "turn_index": state.replies_so_far,
            "summary": state.rolling_summary,
            "recent": [{"role": t.role, "text": t.text} for t in visible],
        }
        return ChatRequest(task="conversation", messages=_merge_same_role(messages), context=context)

    # -- memory --

    def fold_due(self, state: ConversationState) -> list[Turn]:
        """The turns to fold into the summary now: those older than the verbatim window, once a
        whole batch of them has left it (so most replies cost no summary call); else none."""
        window = self.verbatim_window(state.turns)
        older = [t for t in state.turns if t.position < window[0].position] if window else []
        return older if len(older) >= self.fold_batch else []

    async def fold_memory(self, conversation_id, *, state: ConversationState | None = None) -> Fold | None:
        """Fold the turns older than the verbatim window into the rolling summary.

        Returns the stored ``Fold``, or None when nothing was due (or another fold got there
        first). ``state`` as in ``start_reply``. Raises ProviderError.
        """
        if state is None:
            state = await self.load_state(conversation_id)
        older = self.fold_due(state)
        if not older:
            return None
        turns = [{"role": "person" if t.role == Message.Role.USER else "future_self", "text": t.text} for t in older]
        max_words = self.summary_max_chars // 7
        request = ChatRequest(
            task="summary",
            messages=[
                ChatMessage("system", render_prompt("summary.md", max_words=max_words)),
                ChatMessage(
                    "user",
                    render_prompt(
                        "summary_input.md",
                        previous_summary=as_data("summary_so_far", state.rolling_summary)
                        if state.rolling_summary
                        else "",
                        turns=as_data("turns_to_add", turns),
                    ),
                ),
            ],
            context={
                "previous_summary": state.rolling_summary,
                "turns": [{"role": t.role, "text": t.text} for t in older],
                "max_chars": self.summary_max_chars,
            },
        )
        result = await self.chat.complete(request)
        fold = Fold(summary=result.text.strip()[: self.summary_max_chars], through=older[-1].position + 1)
        stored = await database_sync_to_async(services.conversation_fold_memory)(
            conversation_id=conversation_id,
            expected_through=state.summarized_through,
            new_through=fold.through,
            summary=fold.summary,
        )
        return fold if stored else None


def _card_for_prompt(card: dict[str, Any]) -> dict[str, Any]:
    skip = {"voice_id", "avatar_prompt", "unexpected"}
    return {key: value for key, value in card.items() if key not in skip}


def _merge_same_role(messages: list[ChatMessage]) -> list[ChatMessage]:
    """Join consecutive messages of the same role: some chat APIs insist on alternating roles."""
    merged: list[ChatMessage] = []
    for message in messages:
        if merged and merged[-1].role == message.role and message.role != "system":
            merged[-1] = ChatMessage(message.role, merged[-1].content + "\n\n" + message.content)
        else:
            merged.append(message)
    return merged


_STREAM_END = object()


class Reply:
    """One reply being generated. Not reusable: one ``events()`` or ``stream()`` per instance."""

    def __init__(
        self,
        engine: ConversationEngine,
        conversation_id,
        request: ChatRequest,
        *,
        started_at: float,
        position: int | None = None,
    ):
        self.engine = engine
        self.conversation_id = conversation_id
        self.request = request
        self.position = position  # where the reply is expected to go (see services.message_add_reply)
        self.message: Message | None = None
        self.message_id = uuid.uuid4()
        self.started_at = started_at
        self.parts: list[str] = []
        self.timings: dict[str, Any] = {}
        self.usage: Usage | None = None
        self.end: ReplyEnd | None = None
        self._lock = asyncio.Lock()
        # What the model has written and nobody has read yet: text pieces, then _STREAM_END
        # or the error that ended the stream.
        self._held: asyncio.Queue[str | object | BaseException] = asyncio.Queue()
        self._pull_task: asyncio.Task[None] | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def begin(self) -> None:
        """Send the request to the model now (if not already sent); its output is held for ``stream()``."""
        if self._pull_task is None:
            self._pull_task = asyncio.create_task(self._pull())

    def discard(self) -> None:
        """Stop the request and drop whatever it wrote (a no-op once it has finished). A discarded
        reply is never read afterwards: its stream would wait for an end that never comes."""
        if self._pull_task is not None:
            self._pull_task.cancel()

    async def _pull(self) -> None:
        llm_started = time.perf_counter()
        first = True
        try:
            async with asyncio.timeout(self.engine.first_token_timeout) as deadline:
                async for delta in self.engine.chat.stream(self.request):
                    if delta.usage is not None:
                        self.usage = delta.usage
                    if not delta.text:
                        continue
                    if first:
                        first = False
                        self.timings["llm_first_token_ms"] = _ms(llm_started, time.perf_counter())
                        deadline.reschedule(llm_started + self.engine.total_timeout)
                    self._held.put_nowait(delta.text)
        except TimeoutError:
            self._held.put_nowait(
                ProviderUnavailable("The conversation model took too long to answer.", provider="engine")
            )
        except Exception as exc:  # handed to the reader, who raises it
            self._held.put_nowait(exc)
        else:
            self.timings["llm_total_ms"] = _ms(llm_started, time.perf_counter())
            self._held.put_nowait(_STREAM_END)

    async def stream(self) -> AsyncIterator[ReplyStart | ReplyDelta]:
        """ReplyStart, then the deltas as the provider produces them. Raises ProviderError.

        A reader that stops early (cancelled, or an error downstream) stops the request too.
        """
        yield ReplyStart(self.message_id)
        self.begin()
        try:
            while (item := await self._held.get()) is not _STREAM_END:
                if isinstance(item, BaseException):
                    raise item
                self.parts.append(item)
                yield ReplyDelta(item)
        finally:
            self.discard()

    async def events(self) -> AsyncIterator[ReplyEvent]:
        """The whole reply: start, deltas, then ``ReplyEnd`` once it is saved."""
        async for event in self.stream():
            yield event
        yield await self.finish()

    async def finish(
        self, *, interrupted: bool = False, text: str | None = None, extra_timings: dict[str, Any] | None = None
    ) -> ReplyEnd:
        """Save the reply (once) and return its end event. ``text`` overrides what is saved (e.g. what was spoken)."""
        async with self._lock:
            if self.end is not None:
                return self.end
            self.timings.setdefault("llm_first_token_ms", None)
            self.timings.update(extra_timings or {})
            self.timings["total_ms"] = _ms(self.started_at, time.perf_counter())
            # The stored row is the truth: a save cancelled mid-way may still have completed.
            message = await services.amessage_add_reply(
                conversation_id=self.conversation_id,
                message_id=self.message_id,
                text=self.text if text is None else text,
                interrupted=interrupted,
                timings=dict(self.timings),
                position=self.position,
            )
            self.message = message
            self.end = ReplyEnd(message.pk, message.text, message.interrupted, dict(message.timings))
            return self.end

    async def interrupt(self, *, text: str | None = None, extra_timings: dict[str, Any] | None = None) -> ReplyEnd:
        """Save what was produced so far as interrupted (after the task streaming it was cancelled).

        If the reply had already ended, its normal end is returned.
        """
        return await self.finish(interrupted=True, text=text, extra_timings=extra_timings)

    def tokens_used(self) -> int:
        """LLM tokens this reply cost: the provider's count, else an estimate (about four characters a token)."""
        if self.usage is not None and (self.usage.input_tokens or self.usage.output_tokens):
            return self.usage.input_tokens + self.usage.output_tokens
        prompt = sum(len(m.content) for m in self.request.messages)
        return (prompt + len(self.text)) // 4 + 1


# --- the debrief ----------------------------------------------------------------


def _person_messages(conversation: Conversation) -> list[str]:
    return list(debriefable_messages(conversation.messages.all()).values_list("text", flat=True))


def debriefable_messages(messages):
    """The person's words a debrief may read: never a safety-flagged message, which no model sees."""
    return messages.filter(role=Message.Role.USER, safety_flagged=False).exclude(text="")


def debrief_context(conversation: Conversation) -> dict[str, Any]:
    """What the debrief is written from: this conversation and the person's words with the other
    selves of the same dilemma (same generation, or same profile and dilemma) (sync)."""
    from django.db.models import Q

    from personas.models import FutureSelf

    future_self = conversation.future_self
    siblings = (
        FutureSelf.objects.filter(
            Q(generation_id=future_self.generation_id) | Q(profile=future_self.profile, dilemma=future_self.dilemma)
        )
        .exclude(pk=future_self.pk)
        .exclude(path=future_self.path)
        .order_by("created_at")
    )
    # One query for every sibling's words, not one per sibling and conversation.
    words_by_self: dict[Any, list[str]] = {}
    for self_id, text in (
        debriefable_messages(Message.objects.filter(conversation__future_self__in=siblings))
        .order_by("conversation__created_at", "position")
        .values_list("conversation__future_self_id", "text")
    ):
        words_by_self.setdefault(self_id, []).append(text)
    other_paths = []
    for sibling in siblings:
        words = words_by_self.get(sibling.pk, [])
        if words:
            other_paths.append(
                {
                    "path": sibling.path,
                    "person_messages": words,
                    "gains": sibling.card.get("gains", []),
                    "costs": sibling.card.get("costs", []),
                }
            )
    profile = future_self.profile.data
    return {
        "conversation_id": str(conversation.pk),
        "path": future_self.path,
        "dilemma": future_self.dilemma or profile.get("dilemma", {}).get("summary", ""),
        "card": _card_for_prompt(future_self.card),
        "person_messages": _person_messages(conversation),
        "other_paths": other_paths,
        "boundaries": [b.get("text", "") for b in profile.get("boundaries", [])],
    }


class DebriefWriter:
    """Writes a debrief from a ``debrief_context``."""

    def __init__(self, *, chat: ChatProvider) -> None:
        self.chat = chat

    def build_request(self, context: dict[str, Any]) -> ChatRequest:
        others = context["other_paths"]
        system = render_prompt("debrief.md", several_paths=bool(others), path_count=len(others) + 1)
        user = render_prompt(
            "debrief_input.md",
            dilemma=as_data("decision", context["dilemma"]),
            card=as_data("future_self_card", context["card"]),
            conversation=as_data("what_the_person_said", context["person_messages"]),
            other_paths=as_data(
                "other_paths_explored",
                [{"path": o["path"], "what_the_person_said": o["person_messages"]} for o in others],
            )
            if others
            else "",
            boundaries=as_data("boundaries", context["boundaries"]),
        )
        return ChatRequest(
            task="debrief",
            messages=[ChatMessage("system", system), ChatMessage("user", user)],
            context=context,
        )

    async def write(self, context: dict[str, Any]) -> DebriefData:
        result = await self.chat.parse(self.build_request(context), DebriefData)
        return result.value
