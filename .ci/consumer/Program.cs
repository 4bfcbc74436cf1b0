using Espnet.Compiled;
var model = new Tiny();
var y = new float[Tiny.OutputLength];
model.Forward(new float[Tiny.InputLength], y);
Console.WriteLine($"{model.Name}: {Tiny.ParameterTotal} parameters, output {model.OutputShape}");

[EspNetC(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32)]
public sealed partial class Tiny;
