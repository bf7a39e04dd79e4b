namespace StrawberryPhi.Core.Validation;

/// <summary>
/// Every code the validator emits. The first seven are the OpenAI Cookbook's, kept with the same names so that
/// scripts written against the notebook keep working; the rest are ours.
/// </summary>
public static class IssueCodes
{
    // The Cookbook's format checks.
    public const string DataType = "data_type";
    public const string MissingMessagesList = "missing_messages_list";
    public const string MessageMissingKey = "message_missing_key";
    public const string MessageUnrecognizedKey = "message_unrecognized_key";
    public const string UnrecognizedRole = "unrecognized_role";
    public const string MissingContent = "missing_content";
    public const string ExampleMissingAssistantMessage = "example_missing_assistant_message";

    // File level.
    public const string EmptyFile = "empty_file";
    public const string BinaryFile = "binary_file";
    public const string UnsupportedEncoding = "unsupported_encoding";
    public const string WrongFormat = "wrong_format";
    public const string InvalidUtf8 = "invalid_utf8";
    public const string InvalidJson = "invalid_json";
    public const string BlankLine = "blank_line";
    public const string TooFewExamples = "too_few_examples";

    // Today's chat format, beyond the Cookbook.
    public const string ExampleUnrecognizedKey = "example_unrecognized_key";
    public const string InvalidContentType = "invalid_content_type";
    public const string InvalidContentPart = "invalid_content_part";
    public const string InvalidName = "invalid_name";
    public const string InvalidWeight = "invalid_weight";
    public const string InvalidToolCalls = "invalid_tool_calls";
    public const string MissingToolCallId = "missing_tool_call_id";
    public const string UnknownToolCallId = "unknown_tool_call_id";
    public const string InvalidTools = "invalid_tools";
    public const string InvalidParallelToolCalls = "invalid_parallel_tool_calls";
    public const string DeprecatedFunctionCall = "deprecated_function_call";
    public const string NoTrainedAssistantMessage = "no_trained_assistant_message";
    public const string MissingSystemMessage = "missing_system_message";
    public const string MissingUserMessage = "missing_user_message";
    public const string InconsistentSystemPrompt = "inconsistent_system_prompt";
    public const string DuplicateExample = "duplicate_example";
    public const string ExampleOverTokenLimit = "example_over_token_limit";

    // Preference (DPO) format.
    public const string PreferenceMissingInput = "preference_missing_input";
    public const string PreferenceInvalidOutput = "preference_invalid_output";
    public const string PreferenceIdenticalOutputs = "preference_identical_outputs";
    public const string PreferenceInputEndsWithAssistant = "preference_input_ends_with_assistant";

    // Reflection format (opt-in).
    public const string ReflectionMissingThinking = "reflection_missing_thinking";
    public const string ReflectionMissingOutput = "reflection_missing_output";
    public const string ReflectionUnclosedTag = "reflection_unclosed_tag";
    public const string ReflectionUnexpectedClosingTag = "reflection_unexpected_closing_tag";
    public const string ReflectionNestedTag = "reflection_nested_tag";
    public const string ReflectionOutsideThinking = "reflection_outside_thinking";
    public const string ReflectionMisplacedTag = "reflection_misplaced_tag";
    public const string ReflectionTextOutsideTags = "reflection_text_outside_tags";
    public const string ReflectionWrongOrder = "reflection_wrong_order";
    public const string ReflectionDuplicateBlock = "reflection_duplicate_block";
    public const string ReflectionEmptyOutput = "reflection_empty_output";
    public const string ReflectionNotText = "reflection_not_text";
}
